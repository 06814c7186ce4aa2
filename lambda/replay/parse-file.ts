import { constants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { classifyRecord } from '../core/normalize';
import { fingerprint } from './seen-ids';

/** A watched write found in an input, with where it came from (for error messages). */
export interface LocatedRecord {
  raw: unknown;
  where: string;
}

/** What one input file (or standard input) held. */
export interface FileResult<Ids extends ArrayLike<number> = number[]> {
  source: string;
  bytes: number;
  records: number;
  /** KMS and CloudTrail read-only calls. */
  reads: number;
  /** Other services' records. */
  others: number;
  /**
   * Fingerprints of the reads' and other records' IDs (pairs of numbers, see {@link fingerprint}), to count each
   * record once over the run. A worker sends them as `Uint32Array`s, which cross threads as one copy.
   */
  readIds: Ids;
  otherIds: Ids;
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
  return { source, bytes, records: 0, reads: 0, others: 0, readIds: [], otherIds: [], writes: [], recordErrors: [] };
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

/** EventBridge events whose `detail` is a CloudTrail record (API calls, service events, console sign-ins...). */
const VIA_CLOUDTRAIL = / via CloudTrail$/;

/** The ID a record is known by: its eventID, or an EventBridge event's (its detail's eventID, else its own id). */
function recordId(record: Record<string, unknown>): string | undefined {
  const id = record.eventID ?? (isObject(record.detail) ? record.detail.eventID : undefined) ?? record.id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Counts one record by kind; what is no record at all (not an object, an event without `detail`, a CloudTrail
 * record that names no service) is an error, not another service's record.
 */
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
  const trailRecord =
    detailType === undefined ? record : VIA_CLOUDTRAIL.test(String(detailType)) ? record.detail : undefined;
  if (isObject(trailRecord) && (typeof trailRecord.eventSource !== 'string' || trailRecord.eventSource === '')) {
    result.recordErrors.push(`${where}: record has no eventSource`);
    return;
  }
  result.records++;
  const kind = classifyRecord(record);
  if (kind === 'write') {
    result.writes.push({ raw: record, where });
    return;
  }
  if (kind === 'read') result.reads++;
  else result.others++;
  const id = recordId(record);
  if (id !== undefined) {
    const [high, low] = fingerprint(id);
    (kind === 'read' ? result.readIds : result.otherIds).push(high, low);
  }
}

function parseJson(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Line numbers of positions asked for in increasing order, counting through the text once. */
function lineCounter(text: string): (position: number) => number {
  let line = 1;
  let newline = text.indexOf('\n');
  return (position) => {
    for (; newline !== -1 && newline < position; newline = text.indexOf('\n', newline + 1)) line++;
    return line;
  };
}

/**
 * Places a JSON error in the whole text by position, line and column (Node 20 gives only the position);
 * `offset` is where the part that was parsed starts.
 */
function withLine(message: string, text: string, offset = 0, lineAt = lineCounter(text)): string {
  const position = /at position (\d+)( \(line \d+ column \d+\))?$/.exec(message);
  if (!position) return message;
  const at = offset + Number(position[1]);
  const column = at - text.lastIndexOf('\n', at - 1);
  return `${message.slice(0, position.index)}at position ${at} (line ${lineAt(at)} column ${column})`;
}

/** Where one JSON value (or what should be one) lies in a text, `end` excluded. */
interface Span {
  start: number;
  end: number;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t';

/** Where the string opening at `open` closes (the first quote not escaped by a backslash), or -1 when `to` comes first. */
function closingQuote(text: string, open: number, to: number): number {
  for (let quote = text.indexOf('"', open + 1); quote !== -1 && quote < to; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}

/**
 * Splits text into JSON values without parsing them, by bracket depth outside strings: inside an array or object
 * (`from` just past its opening bracket, `close` its closing one) at the commas, up to `close`; otherwise between
 * concatenated values. `cut` is set when `to` comes first: the text ends inside a value, or before the array or
 * object closes.
 */
function splitValues(text: string, from: number, to: number, close?: ']' | '}'): { spans: Span[]; cut: boolean } {
  const spans: Span[] = [];
  let depth = 0;
  let start = -1;
  const endValue = (end: number) => {
    if (start >= 0) spans.push({ start, end });
    start = -1;
  };
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (depth === 0 && (close ? c === ',' || c === close : isSpace(c))) {
      endValue(i);
      if (c === close) return { spans, cut: false };
      continue;
    }
    if (start < 0 && !isSpace(c)) start = i;
    if (c === '"') {
      i = closingQuote(text, i, to);
      if (i === -1) {
        endValue(to);
        return { spans, cut: true };
      }
    } else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && depth > 0 && --depth === 0 && !close) endValue(i + 1);
  }
  endValue(to);
  return { spans, cut: close !== undefined || depth > 0 };
}

/** Where the elements of a broken log file's `Records` array start (just past its `[`), if the value has one. */
function recordsArray(text: string, value: Span): number | undefined {
  if (text[value.start] !== '{') return undefined;
  const key = /"Records"\s*:\s*\[/y;
  for (const member of splitValues(text, value.start + 1, value.end, '}').spans) {
    key.lastIndex = member.start;
    if (key.test(text)) return key.lastIndex;
  }
  return undefined;
}

/** A log file's opening, `{"Records":`: no JSON string can hold it (a quote in a string is escaped). */
const LOG_FILE_START = /\{\s*"Records"\s*:/y;
const NEXT_LOG_FILE = /\{\s*"Records"\s*:/g;
/** Where a value may start in a value that failed to parse: a log file's opening, or a `{` at the start of a line. */
const NEXT_VALUE = /\{\s*"Records"\s*:|(?<=\n)\{/g;

/**
 * Where the next value starts inside a value that failed to parse (one broken off, then the next concatenated to
 * it), if anywhere: a log file's opening, or, in anything but a log file (whose records may sit at column 0), a `{`
 * at the start of a line, where jq and JSON Lines put each value and never a nested one. A JSON string holds
 * neither.
 */
function nextValueStart(text: string, value: Span): number | undefined {
  LOG_FILE_START.lastIndex = value.start;
  const next = LOG_FILE_START.test(text) ? NEXT_LOG_FILE : NEXT_VALUE;
  // Searched in place from just inside the value: no copy of the rest of the input per broken value.
  next.lastIndex = value.start + 1;
  const match = next.exec(text);
  return match && match.index < value.end ? match.index : undefined;
}

/**
 * Reads, value by value, text that JSON.parse refused: each of several concatenated values (as jq prints them),
 * and each element of a log file's `Records` array, is parsed on its own, so a syntax error costs only the value
 * it is in, and a truncated input only its end. A value broken off where the next one starts (partial files joined
 * by `cat`) costs only itself, or in a log file only the record it breaks in: the reading resumes at the next value.
 */
function scanValues(text: string, result: FileResult): void {
  const lineAt = lineCounter(text);
  const lineAndColumn = (at: number) => `line ${lineAt(at)} column ${at - text.lastIndexOf('\n', at - 1)}`;
  let values = splitValues(text, 0, text.length);
  let count = 0;
  for (let index = 0; index < values.spans.length; index++) {
    let span = values.spans[index];
    const whole = parseJson(text.slice(span.start, span.end));
    const next = whole.error === undefined ? undefined : nextValueStart(text, span);
    const many = count > 0 || values.spans.length > 1 || next !== undefined;
    const where = many ? `value ${++count} (line ${lineAt(span.start)})` : '';
    if (whole.error === undefined) {
      collect(whole.value, where, result);
      continue;
    }
    // Why the value stops early, if it does, given how many records of a log file come before the stop.
    let stop: ((records?: number) => string) | undefined;
    if (next !== undefined) {
      const value = count + 1;
      stop = (records) =>
        `broken off ${records === undefined ? '' : `after ${records} record(s), `}where value ${value} starts (${lineAndColumn(next)})`;
      span = { start: span.start, end: next };
      values = splitValues(text, next, text.length);
      index = -1;
    } else if (values.cut && index === values.spans.length - 1) {
      stop = (records) =>
        `truncated (${records === undefined ? 'the input ends inside it' : `the log file ends after ${records} record(s)`})`;
    }
    const report = (name: string, offset: number, error: string, stopped: boolean) =>
      result.recordErrors.push(
        stopped && stop ? `${name}: ${stop()}` : `${name}: not valid JSON (${withLine(error, text, offset, lineAt)})`,
      );
    const records = recordsArray(text, span);
    if (records === undefined) {
      report(where || 'content', span.start, whole.error, true);
      continue;
    }
    const prefix = where ? `${where} ` : '';
    const elements = splitValues(text, records, span.end, ']');
    let broken = 0;
    let endsInRecord = false;
    elements.spans.forEach((element, i) => {
      const name = `${prefix}Records[${i}]`;
      const item = parseJson(text.slice(element.start, element.end));
      if (item.error === undefined) {
        countRecord(item.value, name, result);
        return;
      }
      broken++;
      endsInRecord = stop !== undefined && elements.cut && i === elements.spans.length - 1;
      report(name, element.start, item.error, endsInRecord);
    });
    if (stop && !endsInRecord) {
      // The value stops between two records, or after the last one.
      result.recordErrors.push(`${where ? `${where}: ` : ''}${stop(elements.spans.length)}`);
    } else if (!broken) {
      // Every record parses: the error is elsewhere in the log file.
      report(where || 'content', span.start, whole.error, false);
    }
  }
}

/**
 * Decompresses gzip. A truncated file (a partial download or copy) gives what decompresses before the cut, with
 * `truncated` set; any other fault, or more than `maxBytes` of output, is an error.
 */
function gunzip(buffer: Buffer, maxBytes: number): { data: Buffer; truncated: boolean } | { error: string } {
  const options = { maxOutputLength: maxBytes + 1 };
  try {
    return { data: gunzipSync(buffer, options), truncated: false };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      return { error: `too large to read (decompresses to more than ${mib(maxBytes)})` };
    // "unexpected end of file": decompressing again without asking for the end gives the partial output.
    const partial = code === 'Z_BUF_ERROR' ? partialGunzip(buffer, options) : undefined;
    if (partial?.length) return { data: partial, truncated: true };
    return { error: `not a valid gzip file (${message})` };
  }
}

/** What a truncated gzip decompresses to before its cut; nothing when even that fails. */
function partialGunzip(buffer: Buffer, options: { maxOutputLength: number }): Buffer | undefined {
  try {
    return gunzipSync(buffer, { ...options, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined;
  }
}

/** The JSON reading of one input's text: the fast path for a whole document, then the tolerant ones. */
function parseText(text: string, result: FileResult): FileResult {
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (error) {
    const lines = text.split('\n');
    // JSON Lines when some line holds a whole object from its first column (a pretty-printed document indents its
    // nested ones, such as an empty `{}` in an array); else each value and record on its own. (Only a line that
    // looks like one is parsed: a failed JSON.parse is slow, and pretty-printed JSON has many lines.)
    const isObjectLine = (line: string) => /^\{.*\}\s*$/s.test(line) && isObject(parseJson(line).value);
    if (lines.some(isObjectLine)) {
      lines.forEach((line, index) => {
        if (!line.trim()) return;
        const parsed = parseJson(line);
        if (parsed.error === undefined) collect(parsed.value, `line ${index + 1}`, result);
        else result.recordErrors.push(`line ${index + 1}: not valid JSON (${parsed.error})`);
      });
      return result;
    }
    scanValues(text, result);
    if (result.records > 0) return result;
    // No record in it parses (a broken single record, a text file): one error for the file, not one per value.
    return {
      ...emptyResult(result.source, result.bytes),
      fileError: `not valid JSON or JSON Lines (${withLine((error as Error).message, text)})`,
    };
  }
  if (isObject(whole) && isDigest(whole)) return { ...result, skipped: 'CloudTrail digest file (no records)' };
  const nothing = nothingToReplay(whole);
  if (nothing) return { ...result, fileError: `holds no CloudTrail records (${nothing})` };
  collect(whole, '', result);
  return result;
}

/**
 * Reads one input's bytes: gzip or plain; a CloudTrail log file, an array, one record or EventBridge event, JSON
 * Lines of any of these, or several of them one after another (as jq prints them). A bad line, value or record is
 * reported and the rest still counts; so is a truncated input, whose complete records still count. An input too
 * large to hold as text (a decompression bomb) is reported, never a crash.
 */
export function parseBuffer(source: string, buffer: Buffer, options: ParseOptions = {}): FileResult {
  const maxBytes = Math.min(options.maxBytes ?? MAX_INPUT_BYTES, MAX_INPUT_BYTES);
  let data = buffer;
  let truncated = false;
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    const inflated = gunzip(data, maxBytes);
    if ('error' in inflated) return { ...emptyResult(source, buffer.length), fileError: inflated.error };
    ({ data, truncated } = inflated);
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
  const parsed = parseText(text, result);
  if (!truncated) return parsed;
  const cut = `truncated gzip file (the data ends after ${mib(data.length)})`;
  if (parsed.fileError) return { ...parsed, fileError: `${cut}: ${parsed.fileError}` };
  parsed.recordErrors.push(`${cut}: the ${parsed.records} complete record(s) before the cut were read`);
  return parsed;
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
