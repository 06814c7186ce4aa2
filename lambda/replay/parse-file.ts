import { constants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { classifyRecord } from '../core/normalize';

/** A watched write found in an input, with where it came from (for error messages). */
export interface LocatedRecord {
  raw: unknown;
  where: string;
}

/** What one input file (or standard input) held. */
export interface FileResult {
  source: string;
  bytes: number;
  records: number;
  /** KMS and CloudTrail read-only calls. */
  reads: number;
  /** Other services' records. */
  others: number;
  writes: LocatedRecord[];
  /** Records that could not be read; the rest of the file still counts. */
  recordErrors: string[];
  /** Set when the whole file could not be read, or holds nothing to replay (a digest file). */
  fileError?: string;
  skipped?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  !!value && typeof value === 'object' && !Array.isArray(value);

export function emptyResult(source: string, bytes: number): FileResult {
  return { source, bytes, records: 0, reads: 0, others: 0, writes: [], recordErrors: [] };
}

/**
 * The most text one input may hold once decompressed: V8's longest string, so no file that could be parsed
 * is refused, and a decompression bomb stops here instead of crashing the run.
 */
export const MAX_INPUT_BYTES = constants.MAX_STRING_LENGTH;

export interface ParseOptions {
  /** Decompressed size past which an input is reported as too large to read (default {@link MAX_INPUT_BYTES}). */
  maxBytes?: number;
}

/** What the main thread asks a replay worker to read. */
export interface ParseRequest {
  path: string;
  options: ParseOptions;
}

const mib = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MiB` : `${bytes} bytes`;

/** Files CloudTrail writes next to the logs that hold no records. */
const isDigest = (value: Record<string, unknown>): boolean => 'digestStartTime' in value && 'logFiles' in value;

/** Why a whole document holds nothing to replay, or `undefined` when it is a log file, an array, a record or an event. */
function nothingToReplay(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length ? undefined : 'an empty array';
  if (!isObject(value)) return `${value === null ? 'null' : typeof value}, not a JSON object`;
  if ('Records' in value) return Array.isArray(value.Records) ? undefined : '"Records" is not an array';
  if ('detail-type' in value || 'eventName' in value) return undefined;
  return 'not a CloudTrail log file, CloudTrail record or EventBridge event';
}

/** `item` is an element of a top-level array: arrays are not nested deeper in any input format. */
function collect(value: unknown, where: string, result: FileResult, item = false): void {
  if (Array.isArray(value) && !item) {
    value.forEach((element, index) => {
      collect(element, `${where}[${index}]`, result, true);
    });
    return;
  }
  if (!isObject(value)) {
    result.recordErrors.push(`${where || 'content'}: not a JSON object`);
    return;
  }
  if (Array.isArray(value.Records)) {
    value.Records.forEach((record, index) => {
      countRecord(record, `${where ? `${where} ` : ''}Records[${index}]`, result);
    });
    return;
  }
  if ('detail-type' in value || 'eventName' in value) {
    countRecord(value, where || 'record', result);
    return;
  }
  result.recordErrors.push(`${where || 'content'}: not a CloudTrail log file, CloudTrail record or EventBridge event`);
}

/** Counts one record by kind; what is no record at all (not an object, an event without `detail`) is an error, not another service's record. */
function countRecord(record: unknown, where: string, result: FileResult): void {
  if (!isObject(record)) {
    result.recordErrors.push(`${where}: not a JSON object`);
    return;
  }
  const detailType = record['detail-type'];
  if (detailType !== undefined && !isObject(record.detail)) {
    result.recordErrors.push(`${where}: EventBridge event ${JSON.stringify(detailType)} has no detail`);
    return;
  }
  result.records++;
  const kind = classifyRecord(record);
  if (kind === 'write') result.writes.push({ raw: record, where });
  else if (kind === 'read') result.reads++;
  else result.others++;
}

function parseLine(line: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(line) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Adds the line and column to a JSON error that gives only a position (older Node versions). */
function withLine(message: string, text: string): string {
  const position = /at position (\d+)$/.exec(message);
  if (!position) return message;
  const before = text.slice(0, Number(position[1])).split('\n');
  return `${message} (line ${before.length} column ${before[before.length - 1].length + 1})`;
}

/**
 * Reads one input's bytes: gzip or plain; a CloudTrail log file, an array, one record or EventBridge
 * event, or JSON Lines of any of these. A bad line or record is reported and the rest still counts; an
 * input too large to hold as text (a decompression bomb) is reported, never a crash.
 */
export function parseBuffer(source: string, buffer: Buffer, options: ParseOptions = {}): FileResult {
  const maxBytes = Math.min(options.maxBytes ?? MAX_INPUT_BYTES, MAX_INPUT_BYTES);
  let data = buffer;
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = gunzipSync(data, { maxOutputLength: maxBytes + 1 });
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      return {
        ...emptyResult(source, buffer.length),
        fileError:
          code === 'ERR_BUFFER_TOO_LARGE'
            ? `too large to read (decompresses to more than ${mib(maxBytes)})`
            : `not a valid gzip file (${message})`,
      };
    }
  }
  if (data.length > maxBytes)
    return { ...emptyResult(source, data.length), fileError: `too large to read (more than ${mib(maxBytes)})` };
  const result = emptyResult(source, data.length);
  let text: string;
  try {
    text = data.toString('utf8');
  } catch (error) {
    return { ...result, fileError: `too large to read (${(error as Error).message})` };
  }
  // Windows editors and some exporters start the text with a byte order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return { ...result, fileError: 'empty file' };
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (error) {
    const lines = text.split('\n');
    // JSON Lines only when some line holds a whole object: a broken pretty-printed document is one error.
    if (!lines.some((line) => line.includes('{') && isObject(parseLine(line).value))) {
      return { ...result, fileError: `not valid JSON or JSON Lines (${withLine((error as Error).message, text)})` };
    }
    lines.forEach((line, index) => {
      if (!line.trim()) return;
      const parsed = parseLine(line);
      if (parsed.error === undefined) collect(parsed.value, `line ${index + 1}`, result);
      else result.recordErrors.push(`line ${index + 1}: not valid JSON (${parsed.error})`);
    });
    return result;
  }
  if (isObject(whole) && isDigest(whole)) return { ...result, skipped: 'CloudTrail digest file (no records)' };
  const nothing = nothingToReplay(whole);
  if (nothing) return { ...result, fileError: `holds no CloudTrail records (${nothing})` };
  collect(whole, '', result);
  return result;
}

/** Reads and parses one file; a file that cannot be read becomes a file error, never an exception. */
export function readInputFile(path: string, options: ParseOptions = {}): FileResult {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return {
      ...emptyResult(path, 0),
      fileError: code === 'ERR_FS_FILE_TOO_LARGE' ? `too large to read (${message})` : message,
    };
  }
  try {
    return parseBuffer(path, buffer, options);
  } catch (error) {
    // Past V8's limits for a string or buffer: this file only, the run goes on.
    if (!(error instanceof RangeError)) throw error;
    const tooLarge = /ERR_(STRING|BUFFER)_TOO_(LONG|LARGE)/.test(String((error as NodeJS.ErrnoException).code));
    return {
      ...emptyResult(path, buffer.length),
      fileError: `${tooLarge ? 'too large to read' : 'could not be read'} (${error.message})`,
    };
  }
}
