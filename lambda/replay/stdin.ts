/**
 * Standard input (`keydrift replay -`), read as a file is: whole while it is small. From the size at which a file is
 * streamed (an eighth of it when gzipped, which decompresses to many times more), it is first copied to a temporary
 * file only this user can read, deleted after, so that a large JSON Lines export piped in (`aws s3 cp s3://… - |`)
 * is read a line at a time, as when it is named.
 */

import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import {
  emptyResult,
  type FileResult,
  isGzipData,
  type ParseOptions,
  parseBuffer,
  readInputFile,
  STREAM_FROM_BYTES,
} from './parse-file';

export const STDIN_SOURCE = '<stdin>';

/** Reads standard input's bytes as one input named `<stdin>`. */
export async function readStandardInput(stdin: AsyncIterable<Buffer>, options: ParseOptions): Promise<FileResult> {
  const streamFrom = options.streamFrom ?? STREAM_FROM_BYTES;
  const held: Buffer[] = [];
  let size = 0;
  const chunks = stdin[Symbol.asyncIterator]();
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    held.push(next.value);
    size += next.value.length;
    if (size >= streamFrom / 8 && (size >= streamFrom || isGzipData(Buffer.concat(held.slice(0, 2))))) {
      try {
        return { ...(await readSpooled(held, chunks, options)), source: STDIN_SOURCE };
      } catch (error) {
        // No temporary folder, or no room in it: said of this input, the others still replay.
        const reason = `could not be copied to a temporary file (${(error as Error).message})`;
        return { ...emptyResult(STDIN_SOURCE, size), fileError: reason };
      }
    }
  }
  return parseBuffer(STDIN_SOURCE, Buffer.concat(held), options);
}

/** Copies what was read and the rest of standard input to a private temporary file, and reads that file. */
async function readSpooled(held: Buffer[], rest: AsyncIterator<Buffer>, options: ParseOptions): Promise<FileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'keydrift-stdin-'));
  const release = removedOnSignal(dir);
  try {
    const file = join(dir, 'stdin');
    async function* all(): AsyncGenerator<Buffer> {
      // Handed over one by one, so the part read before is not held until the end.
      for (let chunk = held.shift(); chunk; chunk = held.shift()) yield chunk;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    }
    await pipeline(Readable.from(all()), createWriteStream(file, { mode: 0o600 }));
    return await readInputFile(file, options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await release();
  }
}

const ENDING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Removes `dir` when a signal (Ctrl-C, kill, a closed terminal) ends the run while it exists, then ends as the signal
 * would have: the copy may be gigabytes of audit logs. Returns what stops watching.
 */
function removedOnSignal(dir: string): () => Promise<void> {
  const stopWatching = () => {
    for (const signal of ENDING_SIGNALS) process.off(signal, onSignal);
  };
  function onSignal(signal: NodeJS.Signals): void {
    rmSync(dir, { recursive: true, force: true });
    stopWatching();
    process.kill(process.pid, signal);
  }
  for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  return async () => {
    // A signal that came during a synchronous read waits for the event loop's next poll: removing the listeners
    // before it would drop the signal, and the run would go on. The first immediate may still run in the loop turn
    // that woke this code; the second runs after the next poll.
    await setImmediate();
    await setImmediate();
    stopWatching();
  };
}
