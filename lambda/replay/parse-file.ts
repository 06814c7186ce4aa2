import { constants } from 'node:buffer';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { classifyRecord, jsonType, MAX_RECORD_DEPTH, nestedDeeperThan } from '../core/normalize';
import { eachLine } from './lines';
import { fingerprint } from './seen-ids';
import { notUtf8, utf8Error } from './utf8';

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

/** Whether bytes start as gzip data does (its two magic bytes). */
export const isGzipData = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Decompressed size from which a JSON Lines file is read as a stream, a line at a time. */
export const STREAM_FROM_BYTES = 64 * 1024 * 1024;
const INDENTED = /^[ \t]/;
/** The most text of lines that do not parse on their own a stream holds: past it, the file is read whole. */
const MAX_BROKEN_RUN = 64 * 1024 * 1024;

export interface ParseOptions {
  /** Decompressed size past which an input is reported as too large to read (default {@link MAX_INPUT_BYTES}). */
  maxBytes?: number;
  /**
   * Decompressed size from which a file is streamed when it is JSON Lines (default {@link STREAM_FROM_BYTES}): it is
   * then limited by neither `maxBytes` nor V8's longest string, and holds one line at a time.
   */
  streamFrom?: number;
}

/** What the main thread asks a replay worker to read. */
export interface ParseRequest {
  path: string;
  options: ParseOptions;
}

const mib = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MiB` : `${bytes} bytes`;

/**
 * Node's message for a failed file call without the call and path it ends with (`, open '/logs/a.json'`): every line
 * that reports it starts with the path already.
 */
export const withoutPath = (message: string): string => message.replace(/, [a-z]+ '.*'$/s, '');

/**
 * The refusal of an input past the size limit of one read whole, with the way round it: JSON Lines are read as a
 * stream whatever their size (jq reads no gzip, so a gzipped input is decompressed into it).
 */
const tooLargeToRead = (detail: string, gzip: boolean): string =>
  `too large to read (${detail}): convert it to JSON Lines, which is read as a stream: ` +
  `${gzip ? "gunzip -c FILE | jq -c '.Records[]'" : "jq -c '.Records[]' FILE"} > FILE.jsonl`;

/** Files CloudTrail writes next to the logs that hold no records. */
const isDigest = (value: Record<string, unknown>): boolean => 'digestStartTime' in value && 'logFiles' in value;

/** Why a whole document that {@link collect} found no CloudTrail content in holds nothing to replay. */
function whyNothing(value: unknown): string {
  if (Array.isArray(value))
    return value.length ? 'no element is a CloudTrail log file, record or event' : 'an empty array';
  if (!isObject(value)) return `${jsonType(value)}, not a JSON object`;
  if ('Records' in value) return '"Records" is not an array';
  return 'not a CloudTrail log file, CloudTrail record or EventBridge event';
}

/** What lookup-events output that ends with a NextToken misses. */
const ONE_PAGE =
  'one page of lookup-events output: the events after it were not fetched (run it without --max-items or ' +
  '--no-paginate, or again with --starting-token)';

/**
 * Whether `Events` is `aws cloudtrail lookup-events` output: empty, or holding events with a `CloudTrailEvent`
 * (other AWS CLI commands, RDS's `describe-events` say, print `{"Events": [...]}` too).
 */
const isLookupEvents = (events: unknown): events is unknown[] =>
  Array.isArray(events) &&
  (events.length === 0 || events.some((event) => isObject(event) && 'CloudTrailEvent' in event));

/**
 * Counts what a value holds, and returns whether it is CloudTrail content at all: a log file (even with no records),
 * lookup-events output, a record or event, or an array holding one. `item` is an element of a top-level array:
 * arrays are not nested deeper in any input format.
 */
function collect(value: unknown, where: string, result: FileResult, item = false): boolean {
  if (Array.isArray(value) && !item) {
    let content = false;
    value.forEach((element, index) => {
      content = collect(element, `${where}[${index}]`, result, true) || content;
    });
    return content;
  }
  if (!isObject(value)) {
    result.recordErrors.push(`${where || 'content'}: ${jsonType(value)}, not a JSON object`);
    return false;
  }
  const list = Array.isArray(value.Records) ? 'Records' : isLookupEvents(value.Events) ? 'Events' : undefined;
  if (list) {
    (value[list] as unknown[]).forEach((record, index) => {
      countRecord(record, `${where ? `${where} ` : ''}${list}[${index}]`, result);
    });
    // The AWS CLI prints a NextToken only when it stopped before the last event (--max-items, --no-paginate).
    if (list === 'Events' && typeof value.NextToken === 'string' && value.NextToken) {
      result.recordErrors.push(`${where ? `${where} ` : ''}NextToken: ${ONE_PAGE}`);
    }
    return true;
  }
  if ('detail-type' in value || 'eventName' in value || 'CloudTrailEvent' in value) {
    countRecord(value, where || 'record', result);
    return true;
  }
  result.recordErrors.push(`${where || 'content'}: not a CloudTrail log file, CloudTrail record or EventBridge event`);
  return false;
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
function countRecord(value: unknown, where: string, result: FileResult): void {
  const { value: record, error } = unwrapLookupEvent(value);
  if (error !== undefined) {
    result.recordErrors.push(`${where}: ${error}`);
    return;
  }
  if (!isObject(record)) {
    result.recordErrors.push(`${where}: ${jsonType(record)}, not a JSON object`);
    return;
  }
  const detailType = record['detail-type'];
  if (detailType !== undefined && !isObject(record.detail)) {
    result.recordErrors.push(`${where}: EventBridge event ${JSON.stringify(detailType)} has no detail`);
    return;
  }
  const trailRecord =
    detailType === undefined ? record : VIA_CLOUDTRAIL.test(String(detailType)) ? record.detail : undefined;
  // CloudTrail Insights records (unusual call rates) name a service only inside insightDetails: counted as others.
  const insight = isObject(trailRecord) && trailRecord.eventType === 'AwsCloudTrailInsight';
  if (
    isObject(trailRecord) &&
    !insight &&
    (typeof trailRecord.eventSource !== 'string' || trailRecord.eventSource === '')
  ) {
    const source = trailRecord.eventSource;
    const missing = source === undefined || source === null || source === '';
    result.recordErrors.push(
      `${where}: ${missing ? 'record has no eventSource' : `eventSource is ${jsonType(source)}, not a string`}`,
    );
    return;
  }
  const kind = classifyRecord(record);
  // A write is kept whole, sent between threads and compared with its copies, all of which recurse: one nested
  // thousands of levels deep (a forged log) overflowed the stack there, which ended the replay, or lost the message
  // from a worker thread, on which the replay then waited for ever.
  if (kind === 'write' && nestedDeeperThan(record, MAX_RECORD_DEPTH)) {
    result.recordErrors.push(`${where}: nested more than ${MAX_RECORD_DEPTH} levels deep (no CloudTrail record is)`);
    return;
  }
  result.records++;
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

/**
 * The CloudTrail record of an `aws cloudtrail lookup-events` event: its `CloudTrailEvent`, the record as a JSON
 * string. Any other value is its own record.
 */
function unwrapLookupEvent(value: unknown): { value?: unknown; error?: string } {
  if (!isObject(value) || !('CloudTrailEvent' in value)) return { value };
  if (typeof value.CloudTrailEvent !== 'string') return { error: 'CloudTrailEvent is not a string' };
  const parsed = parseJson(value.CloudTrailEvent);
  return parsed.error === undefined ? parsed : { error: `CloudTrailEvent is not valid JSON (${parsed.error})` };
}

function parseJson(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Where a text starts in its input: all of it, or one line of an input read as a stream. */
interface TextOrigin {
  line: number;
  position: number;
}
const INPUT_START: TextOrigin = { line: 1, position: 0 };

/** Line numbers of positions asked for in increasing order, counting through the text once. */
function lineCounter(text: string, firstLine: number): (position: number) => number {
  let line = firstLine;
  let newline = text.indexOf('\n');
  return (position) => {
    for (; newline !== -1 && newline < position; newline = text.indexOf('\n', newline + 1)) line++;
    return line;
  };
}

/**
 * Places a JSON error in the input by position, line and column (Node 20 gives only the position); `offset` is where
 * the part that was parsed starts in `text`, and `origin` where `text` starts in the input.
 */
function withLine(
  message: string,
  text: string,
  offset = 0,
  lineAt = lineCounter(text, INPUT_START.line),
  origin = INPUT_START,
): string {
  const position = /at position (\d+)( \(line \d+ column \d+\))?$/.exec(message);
  if (!position) return message;
  const at = offset + Number(position[1]);
  const column = at - text.lastIndexOf('\n', at - 1);
  return `${message.slice(0, position.index)}at position ${origin.position + at} (line ${lineAt(at)} column ${column})`;
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

/** A broken value that holds a list of records, read element by element: where its elements start, and their name. */
interface Container {
  open: number;
  /** `Records` (a log file), `Events` (lookup-events output), or `` for a top-level array. */
  key: string;
}

const LIST_NAMES: Record<string, string> = { Records: 'log file', Events: 'lookup-events output', '': 'array' };
const LIST_KEY = /"(Records|Events)"\s*:\s*\[/y;

/** The list a broken value holds, if any: a top-level array, or a log file's `Records` or lookup-events' `Events`. */
function containerOf(text: string, value: Span): Container | undefined {
  if (text[value.start] === '[') return { open: value.start + 1, key: '' };
  if (text[value.start] !== '{') return undefined;
  for (const member of splitValues(text, value.start + 1, value.end, '}').spans) {
    LIST_KEY.lastIndex = member.start;
    const match = LIST_KEY.exec(text);
    if (match) return { open: LIST_KEY.lastIndex, key: match[1] };
  }
  return undefined;
}

/** A log file's opening, `{"Records":`: no JSON string can hold it (a quote in a string is escaped). */
const LOG_FILE_START = /\{\s*"Records"\s*:/y;
const NEXT_LOG_FILE = /\{\s*"Records"\s*:/g;
/** Where a value may start in a value that failed to parse: a log file's opening, or a `{` at the start of a line. */
const NEXT_VALUE = /\{\s*"Records"\s*:|(?<=\n)\{/g;
/** Where a value may start in an array that failed to parse: a `[` at the start of a line. */
const NEXT_ARRAY = /(?<=\n)\[/g;

/**
 * Where the next value starts inside a value that failed to parse (one broken off, then the next concatenated to
 * it), if anywhere: a log file's opening, or, in anything but a log file or an array (whose records may sit at
 * column 0, and an array's log files hold `{"Records":`), a `{` at the start of a line, where jq and JSON Lines put
 * each value and never a nested one; after an array, only another one at the start of a line. A JSON string holds
 * none of these.
 */
function nextValueStart(text: string, value: Span): number | undefined {
  LOG_FILE_START.lastIndex = value.start;
  const next = text[value.start] === '[' ? NEXT_ARRAY : LOG_FILE_START.test(text) ? NEXT_LOG_FILE : NEXT_VALUE;
  // Searched in place from just inside the value: no copy of the rest of the input per broken value.
  next.lastIndex = value.start + 1;
  const match = next.exec(text);
  return match && match.index < value.end ? match.index : undefined;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters JSON refuses raw in a string are the point.
const CONTROL = /[\u0000-\u001f]/g;

/**
 * Whether a value that failed to parse is whole but for control characters written raw in its strings (a line break
 * or tab an exporter did not escape): it then parses once each is a space. A line break in a string that a `{` follows
 * looks like the start of the next value, and the value was reported broken off there, or truncated when last.
 */
function onlyRawControls(text: string, value: Span, error: string): boolean {
  if (!error.startsWith('Bad control character')) return false;
  return parseJson(text.slice(value.start, value.end).replace(CONTROL, ' ')).error === undefined;
}

const REST_OF_LINE = /[ \t\r]*(?:\n|$)/y;
const BLANKS = /\s*/y;

/**
 * Whether a value fills its line alone, as in JSON Lines (a broken one cut where the next value starts may take the
 * blank lines after it). Only a value starting a line looks for the line's end, so the text is searched once.
 */
function aloneOnLine(text: string, value: Span): boolean {
  if (value.start > 0 && text[value.start - 1] !== '\n') return false;
  const newline = text.indexOf('\n', value.start);
  if (newline === -1 || newline >= value.end) {
    REST_OF_LINE.lastIndex = value.end;
    return REST_OF_LINE.test(text);
  }
  BLANKS.lastIndex = newline;
  BLANKS.test(text);
  return BLANKS.lastIndex >= value.end;
}

/**
 * Reads, value by value, text that JSON.parse refused: JSON Lines, several values one after another (as jq prints
 * them), or a broken value. Each value, and each element of a broken log file's `Records` (or lookup-events'
 * `Events`, or a top-level array), is parsed on its own, so a syntax error costs only the value or record it is in,
 * and a truncated input only its end. A value broken off where the next one starts (partial files joined by `cat`)
 * costs only itself, or in a log file only the record it breaks in: the reading resumes at the next value.
 * Values are named by their line in JSON Lines (when the first value fills its line alone), else by their number.
 * The scan goes on from where {@link readJsonLines} stopped; `origin` places the text in its input. Returns whether
 * any value parsed, whether any was CloudTrail content (see {@link collect}), and how many values there were in all.
 */
function scanValues(
  text: string,
  result: FileResult,
  readBefore: LinesRead,
  origin: TextOrigin,
): { parsed: boolean; content: boolean; values: number } {
  const lineAt = lineCounter(text, origin.line);
  const lineAndColumn = (at: number) => `line ${lineAt(at)} column ${at - text.lastIndexOf('\n', at - 1)}`;
  const found = { parsed: readBefore.values > 0, content: readBefore.content };
  let values = splitValues(text, readBefore.end, text.length);
  let count = readBefore.values;
  let jsonLines: boolean | undefined = count > 0 ? true : undefined;
  for (let index = 0; index < values.spans.length; index++) {
    let span = values.spans[index];
    const whole = parseJson(text.slice(span.start, span.end));
    const next =
      whole.error === undefined || onlyRawControls(text, span, whole.error) ? undefined : nextValueStart(text, span);
    const many = count > 0 || values.spans.length > 1 || next !== undefined;
    const value = ++count;
    if (next !== undefined) span = { start: span.start, end: next };
    const alone = aloneOnLine(text, span);
    jsonLines ??= alone;
    const byLine = jsonLines && alone;
    const where = !many ? '' : byLine ? `line ${lineAt(span.start)}` : `value ${value} (line ${lineAt(span.start)})`;
    if (whole.error === undefined) {
      found.parsed = true;
      found.content = collect(whole.value, where, result) || found.content;
      continue;
    }
    const container = containerOf(text, span);
    // Why the value stops early, if it does, given how many elements of its list come before the stop (lazily: line
    // numbers are counted forwards, and the errors inside the value come first).
    let stop: ((elements?: number) => string) | undefined;
    if (next !== undefined) {
      stop = (elements) =>
        `broken off ${elements === undefined ? '' : `after ${elements} record(s), `}where ${
          byLine ? `line ${lineAt(next)} starts` : `value ${value + 1} starts (${lineAndColumn(next)})`
        }`;
      values = splitValues(text, next, text.length);
      index = -1;
    } else if (values.cut && index === values.spans.length - 1) {
      stop = (elements) =>
        `truncated (${elements === undefined ? 'the input ends inside it' : `the ${LIST_NAMES[container?.key ?? '']} ends after ${elements} record(s)`})`;
    }
    const report = (name: string, offset: number, error: string, stopped: boolean) =>
      result.recordErrors.push(
        stopped && stop
          ? `${name}: ${stop()}`
          : `${name}: not valid JSON (${withLine(error, text, offset, lineAt, origin)})`,
      );
    if (container === undefined) {
      report(where || 'content', span.start, whole.error, true);
      continue;
    }
    const elements = splitValues(text, container.open, span.end, ']');
    let broken = 0;
    let endsInElement = false;
    elements.spans.forEach((element, i) => {
      const name = container.key ? `${where ? `${where} ` : ''}${container.key}[${i}]` : `${where}[${i}]`;
      const item = parseJson(text.slice(element.start, element.end));
      if (item.error === undefined) {
        if (container.key) countRecord(item.value, name, result);
        else found.content = collect(item.value, name, result, true) || found.content;
        return;
      }
      broken++;
      endsInElement = stop !== undefined && elements.cut && i === elements.spans.length - 1;
      report(name, element.start, item.error, endsInElement);
    });
    if (stop && !endsInElement) {
      // The value stops between two elements, or after the last one.
      result.recordErrors.push(`${where ? `${where}: ` : ''}${stop(elements.spans.length)}`);
    } else if (!broken) {
      // Every element parses: the error is elsewhere in the value.
      report(where || 'content', span.start, whole.error, false);
    }
  }
  return { ...found, values: count };
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
      return { error: tooLargeToRead(`decompresses to more than ${mib(maxBytes)}`, true) };
    // "unexpected end of file": decompressing again without asking for the end gives the partial output.
    const partial = code === 'Z_BUF_ERROR' ? partialGunzip(buffer, options) : undefined;
    if (partial?.length) return { data: partial, truncated: true };
    // Cut in its header or first block's (a download stopped in its first bytes): truncated too, not some other fault.
    if (partial) return { error: `truncated gzip file (it ends after ${mib(buffer.length)}, before any data)` };
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

/**
 * A byte order mark starting a line before a value: files that each start with one joined by `cat` (Windows exports)
 * leave one at the start of each file's first line. No JSON string holds a line break, so none is in a string; made a
 * space, it keeps every position. A line of the mark alone stays a line of blanks JSON does not allow, reported.
 */
const JOINED_FILE_MARK = /(?<=\n)\uFEFF(?=[ \t\r]*[{[])/g;

/** How far {@link readJsonLines} got: the offset of the first line that did not parse, and what came before it. */
interface LinesRead {
  end: number;
  values: number;
  content: boolean;
}

// JSON's own whitespace only: a line of other blanks (a no-break space, a stray byte order mark) is reported.
const NOT_JSON_SPACE = /[^ \t\r\n]/;

/**
 * Reads JSON Lines line by line for as long as each line parses on its own: one JSON.parse per line, far faster than
 * scanning the text character by character. A line that parses alone is a whole value (no value can go on past its
 * line once balanced), so the reading is the same as {@link scanValues}', which goes on from the first line that
 * does not parse.
 */
function readJsonLines(text: string, result: FileResult): LinesRead {
  const read: LinesRead = { end: 0, values: 0, content: false };
  for (let line = 1; read.end < text.length; line++) {
    const newline = text.indexOf('\n', read.end);
    const end = newline === -1 ? text.length : newline + 1;
    const lineText = text.slice(read.end, end);
    if (NOT_JSON_SPACE.test(lineText)) {
      const parsed = parseJson(lineText);
      if (parsed.error !== undefined) return read;
      read.values++;
      read.content = collect(parsed.value, `line ${line}`, result) || read.content;
    }
    read.end = end;
  }
  return read;
}

/** Why a digest file, which CloudTrail writes beside the logs to prove them untouched, is skipped. */
export const DIGEST_SKIPPED = 'CloudTrail digest file (no records)';

/** How a value or record the input ends inside is reported, and how a file of nothing else is. */
const ENDS_INSIDE = ': truncated (the input ends inside it)';
const CUT = 'truncated: ';

/** The JSON reading of one input's text: the fast path for a whole document, then JSON Lines, then value by value. */
function parseText(text: string, result: FileResult): FileResult {
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (error) {
    const found = scanValues(text, result, readJsonLines(text, result), INPUT_START);
    if (found.content || result.records > 0) return result;
    // Cut before anything in it was whole (a partial download): it is cut, not broken, and says where.
    const cut = found.parsed ? undefined : result.recordErrors.find((e) => e.endsWith(ENDS_INSIDE));
    const cutIn = cut?.slice(0, -ENDS_INSIDE.length);
    // Nothing in it is CloudTrail content: one error for the file, not one per value.
    return {
      ...emptyResult(result.source, result.bytes),
      fileError: cutIn
        ? `${CUT}the input ends inside ${cutIn === 'content' ? 'its first value' : cutIn}`
        : found.parsed
          ? 'holds no CloudTrail records (no value is a CloudTrail log file, record or event)'
          : `not valid JSON or JSON Lines (${withLine((error as Error).message, text)})`,
    };
  }
  if (isObject(whole) && isDigest(whole)) return { ...result, skipped: DIGEST_SKIPPED };
  if (collect(whole, '', result)) return result;
  return {
    ...emptyResult(result.source, result.bytes),
    fileError: `holds no CloudTrail records (${whyNothing(whole)})`,
  };
}

/** UTF-16 little-endian, by its byte order mark. */
const isUtf16 = (data: Buffer): boolean => data.length >= 2 && data[0] === 0xff && data[1] === 0xfe;

/**
 * A file's text as Windows tools may write it: UTF-16 with a byte order mark (PowerShell 5's `>`, as in
 * `aws cloudtrail lookup-events > events.json`), else UTF-8; a leading byte order mark (Notepad, some exporters),
 * which JSON.parse refuses as an invisible "Unexpected token", is dropped. Throws when the text is too long for a string.
 */
export function decodeText(data: Buffer): string {
  const text = isUtf16(data) ? data.toString('utf16le') : data.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Reads one input's bytes: gzip or plain; a CloudTrail log file, lookup-events output, an array, one record or
 * EventBridge event, JSON Lines of any of these, or several of them one after another (as jq prints them). A bad
 * line, value or record is reported and the rest still counts; so is a truncated input, whose complete records still
 * count. An input too large to hold as text (a decompression bomb) is reported, never a crash.
 */
export function parseBuffer(source: string, buffer: Buffer, options: ParseOptions = {}): FileResult {
  const maxBytes = Math.min(options.maxBytes ?? MAX_INPUT_BYTES, MAX_INPUT_BYTES);
  let data = buffer;
  let truncated = false;
  const gzip = isGzipData(data);
  if (gzip) {
    const inflated = gunzip(data, maxBytes);
    if ('error' in inflated) return { ...emptyResult(source, buffer.length), fileError: inflated.error };
    ({ data, truncated } = inflated);
  }
  if (data.length > maxBytes)
    return { ...emptyResult(source, data.length), fileError: tooLargeToRead(`more than ${mib(maxBytes)}`, gzip) };
  const result = emptyResult(source, data.length);
  let text: string;
  try {
    text = decodeText(data);
  } catch (error) {
    return { ...result, fileError: `too large to read (${(error as Error).message})` };
  }
  if (text.includes('\uFEFF')) text = text.replace(JOINED_FILE_MARK, ' ');
  if (text.trim() === '') return { ...result, fileError: 'empty file' };
  const parsed = parseText(text, result);
  // Said, not refused: the records around such bytes are whole, and one holding them is still judged as it reads.
  const invalid = isUtf16(data) ? undefined : notUtf8(data);
  if (invalid && !parsed.fileError) parsed.recordErrors.unshift(invalid);
  if (!truncated) return parsed;
  const cut = `truncated gzip file (the data ends after ${mib(data.length)})`;
  if (parsed.fileError) return { ...parsed, fileError: `${cut}: ${parsed.fileError.replace(CUT, '')}` };
  parsed.recordErrors.push(`${cut}: the ${parsed.records} complete record(s) before the cut were read`);
  return parsed;
}

/** Reads and parses one file whole; a file that cannot be read becomes a file error, never an exception. */
function readWholeFile(path: string, options: ParseOptions): FileResult {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return {
      ...emptyResult(path, 0),
      fileError:
        code === 'ERR_FS_FILE_TOO_LARGE'
          ? `too large to read (${message})`
          : `could not be read (${withoutPath(message)})`,
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

/**
 * Reads and parses one file; a file that cannot be read becomes a file error, never an exception. A large JSON Lines
 * file is read as a stream, a line at a time; any other file is read whole.
 */
export async function readInputFile(path: string, options: ParseOptions = {}): Promise<FileResult> {
  const file = sizeOf(path, options.streamFrom ?? STREAM_FROM_BYTES);
  const streamed = file?.large ? await streamJsonLines(path, file.gzip) : undefined;
  if (streamed) return streamed;
  const whole = readWholeFile(path, options);
  // A gzip file of several members (`cat a.gz b.gz`) ends with the size of its last member only.
  const largerThanItSaid = file?.gzip && !file.large && whole.fileError?.startsWith('too large to read');
  return (largerThanItSaid && (await streamJsonLines(path, true))) || whole;
}

/**
 * Whether a file is gzip, and decompresses to at least `streamFrom` bytes as far as its size says; `undefined` when it
 * cannot be read.
 */
function sizeOf(path: string, streamFrom: number): { gzip: boolean; large: boolean } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const { size } = fstatSync(fd);
    const head = Buffer.alloc(2);
    const gzip = isGzipData(head.subarray(0, readSync(fd, head, 0, 2, 0)));
    if (!gzip) return { gzip, large: size >= streamFrom };
    // A gzip file ends with its decompressed size modulo 4 GiB (of its last member, for a file of several).
    const tail = Buffer.alloc(4);
    readSync(fd, tail, 0, 4, Math.max(0, size - 4));
    return { gzip, large: Math.max(size, tail.readUInt32LE(0)) >= streamFrom };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Reads a JSON Lines file line by line as {@link readJsonLines} and {@link scanValues} read it in memory, with the same
 * names, holding one line at a time (and runs of lines that do not parse on their own). `undefined` when the file is
 * not JSON Lines (its first line is not a value on its own) or holds one value only: it is read whole instead.
 */
async function streamJsonLines(path: string, gzip: boolean): Promise<FileResult | undefined> {
  const result = emptyResult(path, 0);
  let first: { value: unknown; line: number } | undefined;
  let read: LinesRead = { end: 0, values: 0, content: false };
  let position = 0;
  // Lines that do not parse on their own (and the blank lines among them): scanned together with the next line that
  // does, as in memory, so that a value broken off is named by where the next one starts, and a value spread over
  // lines (jq's indented output) is read whole.
  let broken: { text: string; origin: TextOrigin } | undefined;
  let tooMuchBroken = false;
  const scan = (text: string, origin: TextOrigin) => {
    const found = scanValues(text, result, read, origin);
    read = { end: 0, values: found.values, content: found.content };
  };
  const end = await eachLine(
    path,
    {
      gzip,
      maxLineLength: MAX_INPUT_BYTES,
      onLongLine: (line) =>
        result.recordErrors.push(`line ${line}: too long to read (more than ${mib(MAX_INPUT_BYTES)})`),
    },
    (text, line) => {
      const origin = { line, position };
      position += text.length;
      JOINED_FILE_MARK.lastIndex = 0;
      if (text.charCodeAt(0) === 0xfeff && JOINED_FILE_MARK.test(`\n${text}`)) text = ` ${text.slice(1)}`;
      if (!NOT_JSON_SPACE.test(text)) {
        if (broken) broken.text += text;
        return true;
      }
      const parsed = parseJson(text);
      if (read.values === 0) {
        if (parsed.error !== undefined) return false;
        first = { value: parsed.value, line };
        read.values = 1;
        return true;
      }
      if (first) {
        read.content = collect(first.value, `line ${first.line}`, result);
        first = undefined;
      }
      // Inside a value spread over lines every line is indented (`    "x"` parses alone, yet is no value of its own).
      if (parsed.error !== undefined || (broken && INDENTED.test(text))) {
        if (broken) broken.text += text;
        else broken = { text, origin };
        // So much text that is no JSON Lines: read whole, as in memory, within the whole-file limit.
        if (broken.text.length >= MAX_BROKEN_RUN) {
          tooMuchBroken = true;
          return false;
        }
      } else if (broken) {
        scan(broken.text + text, broken.origin);
        broken = undefined;
      } else {
        read.values++;
        read.content = collect(parsed.value, `line ${line}`, result) || read.content;
      }
      return true;
    },
  );
  if (tooMuchBroken) return undefined;
  // Gzip checks its data only at the end: what came before a fault cannot be trusted (a truncation is no fault).
  if (end.error && !end.error.truncated) {
    const fault = end.error.fromGzip
      ? `not a valid gzip file (${end.error.message})`
      : `could not be read (${withoutPath(end.error.message)})`;
    return { ...emptyResult(path, end.bytes), fileError: fault };
  }
  if (broken) scan(broken.text, broken.origin);
  if (read.values === 0 || first) return undefined;
  result.bytes = end.bytes;
  if (end.notUtf8) result.recordErrors.unshift(utf8Error(end.notUtf8.count, end.notUtf8.first, end.notUtf8.line));
  if (end.error) {
    result.recordErrors.push(
      `truncated gzip file (the data ends after ${mib(end.bytes)}): the ${result.records} complete record(s) before the cut were read`,
    );
  }
  if (read.content || result.records > 0) return result;
  return {
    ...emptyResult(path, end.bytes),
    fileError: 'holds no CloudTrail records (no value is a CloudTrail log file, record or event)',
  };
}
