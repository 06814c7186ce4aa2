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

function emptyResult(source: string, bytes: number): FileResult {
  return { source, bytes, records: 0, reads: 0, others: 0, writes: [], recordErrors: [] };
}

/** Files CloudTrail writes next to the logs that hold no records. */
const isDigest = (value: Record<string, unknown>): boolean => 'digestStartTime' in value && 'logFiles' in value;

/** `item` is an element of a top-level array: arrays are not nested deeper in any input format. */
function collect(value: unknown, where: string, result: FileResult, item = false): void {
  if (Array.isArray(value) && !item) {
    value.forEach((element, index) => {
      collect(element, `${where}[${index}]`, result, true);
    });
    return;
  }
  if (!isObject(value)) {
    result.recordErrors.push(`${where}: not a JSON object`);
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

function countRecord(record: unknown, where: string, result: FileResult): void {
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
 * event, or JSON Lines of any of these. A bad line or record is reported and the rest still counts.
 */
export function parseBuffer(source: string, buffer: Buffer): FileResult {
  let data = buffer;
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = gunzipSync(data);
    } catch (error) {
      return {
        ...emptyResult(source, buffer.length),
        fileError: `not a valid gzip file (${(error as Error).message})`,
      };
    }
  }
  const result = emptyResult(source, data.length);
  const text = data.toString('utf8');
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
  collect(whole, '', result);
  return result;
}

/** Reads and parses one file; a file that cannot be read becomes a file error, never an exception. */
export function readInputFile(path: string): FileResult {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    return { ...emptyResult(path, 0), fileError: (error as Error).message };
  }
  return parseBuffer(path, buffer);
}
