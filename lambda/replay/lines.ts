/**
 * Reads a file line by line, gunzipping it on the way, holding one line at a time: how a JSON Lines input larger
 * than V8's longest string is read. Lines end at `\n` only, as the in-memory reader splits them (readline would also
 * end one at a lone `\r`, and so number lines differently).
 */

import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { lineOfByte, scanUtf8 } from './utf8';

export interface LinesOptions {
  gzip: boolean;
  /** Longer lines are not handed over: their number goes to `onLongLine`. */
  maxLineLength: number;
  onLongLine(line: number): void;
}

export interface LinesEnd {
  /** Bytes read, decompressed. */
  bytes: number;
  /**
   * Why the reading stopped before the end of the file: the gzip data ends mid-stream (`truncated`), is corrupt
   * (`fromGzip`, zlib's error), or a read failed (neither).
   */
  error?: { truncated: boolean; fromGzip: boolean; message: string };
  /** Byte sequences that are no UTF-8 (each read as U+FFFD): how many, and the first's offset and line. */
  notUtf8?: { count: number; first: number; line: number };
}

/** Thrown inside the pipeline when `onLine` asks to stop. */
const STOP = Symbol('stop');

/**
 * Calls `onLine` with each line, its `\n` included, and its number (from 1); a byte order mark at the start is
 * dropped. `onLine` returns `false` to stop reading. Never throws for the file's content or a failed read: the
 * lines before the failure were handed over, and `error` says what stopped it.
 */
export async function eachLine(
  path: string,
  options: LinesOptions,
  onLine: (text: string, line: number) => boolean,
): Promise<LinesEnd> {
  const decoder = new StringDecoder('utf8');
  let parts: string[] = [];
  let partsLength = 0;
  let tooLong = false;
  let line = 0;
  let bytes = 0;
  // Through gunzip the pipeline rejects with its own AbortError, not STOP: the flag says a stop was asked for.
  let stopped = false;

  const take = (text: string): void => {
    let from = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', from)) {
      const end = text.slice(from, newline + 1);
      from = newline + 1;
      line++;
      if (tooLong || partsLength + end.length > options.maxLineLength) options.onLongLine(line);
      else if (!onLine(parts.length ? parts.join('') + end : end, line)) {
        stopped = true;
        throw STOP;
      }
      parts = [];
      partsLength = 0;
      tooLong = false;
    }
    if (from === text.length || tooLong) return;
    const rest = text.slice(from);
    partsLength += rest.length;
    // A line too long to hold is dropped as it comes, so its size costs no memory.
    if (partsLength > options.maxLineLength) {
      tooLong = true;
      parts = [];
    } else {
      parts.push(rest);
    }
  };
  const finish = (): void => {
    take(decoder.end());
    if (!tooLong && partsLength === 0) return;
    line++;
    if (tooLong) options.onLongLine(line);
    else onLine(parts.join(''), line);
  };

  let notUtf8: LinesEnd['notUtf8'];
  // The start of a character the last chunk ended inside, checked with the next chunk.
  let carry: Buffer | undefined;
  const checkUtf8 = (chunk: Buffer): void => {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    const offset = bytes - (carry?.length ?? 0);
    const scan = scanUtf8(data);
    carry = scan.complete < data.length ? Buffer.from(data.subarray(scan.complete)) : undefined;
    if (!scan.count) return;
    // The lines before this chunk are counted; the carry holds no line break.
    notUtf8 ??= { count: 0, first: offset + scan.first, line: lineOfByte(data, scan.first, line + 1) };
    notUtf8.count += scan.count;
  };

  const consume = async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      checkUtf8(chunk);
      const text = decoder.write(chunk);
      take(bytes === 0 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      bytes += chunk.length;
    }
  };
  try {
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    if (options.gzip) await pipeline(file, createGunzip(), consume);
    else await pipeline(file, consume);
    finish();
    return { bytes, notUtf8 };
  } catch (error) {
    if (stopped) return { bytes };
    const { code, message } = error as NodeJS.ErrnoException;
    // A gzip file cut short ends in "unexpected end of file": what came before the cut still counts.
    const truncated = code === 'Z_BUF_ERROR';
    const fromGzip = code?.startsWith('Z_') ?? false;
    try {
      if (truncated) finish();
    } catch (fromOnLine) {
      if (fromOnLine !== STOP) throw fromOnLine;
    }
    return { bytes, error: { truncated, fromGzip, message }, notUtf8 };
  }
}
