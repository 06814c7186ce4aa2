/**
 * Escaping and truncation for attacker-controlled text: key descriptions, tag values, alias names, user agents,
 * principal names, anything copied from a CloudTrail record. Every alert channel passes such text through here,
 * so a hostile string can neither inject lines, mention a channel, hide a link, nor blow a size limit.
 */

/** Marks text that was cut short. */
export const ELLIPSIS = '…';

// Terminal escape sequences, removed whole so no residue such as `[31m` is left: CSI (7- and 8-bit), then OSC (which
// includes OSC 8 hyperlinks; an unterminated one runs to the end, as it would in a terminal) and two-byte escapes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const CONTROL_SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]?|\u009b[0-?]*[ -/]*[@-~]?/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const OTHER_ESCAPES = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]?/g;

// Controls and line or paragraph separators become spaces, so `a\r\nb` cannot start a new line.
const BREAKING_CONTROLS = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

// Invisible format characters (bidi overrides, zero-width spaces, tag characters) and lone surrogates, which cannot
// be encoded as UTF-8, are dropped.
const INVISIBLES = /[\p{Cf}\p{Cs}]/gu;

const URL_SCHEME = /\bhttp(s?):\/\//gi;

// Slack mentions that work without angle brackets when a client links names; only at a word start, so that
// `carol@here.example` is left alone.
const BARE_MENTION = /(^|[^\p{L}\p{N}_])@(channel|here|everyone)\b/giu;

/** Removes terminal escape sequences (colours, cursor moves, OSC 8 hyperlinks). */
export function stripTerminalEscapes(s: string): string {
  return s.replace(CONTROL_SEQUENCES, '').replace(OTHER_ESCAPES, '');
}

/** Cuts `s` to at most `max` UTF-16 code units, ending with `…` when cut, never splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max < ELLIPSIS.length) return '';
  let end = max - ELLIPSIS.length;
  if (end > 0 && isHighSurrogate(s.charCodeAt(end - 1))) end -= 1;
  return `${s.slice(0, end).trimEnd()}${ELLIPSIS}`;
}

/** Cuts `s` to at most `maxBytes` bytes of UTF-8, ending with `…` when cut, never splitting a character. */
export function truncateBytes(s: string, maxBytes: number): string {
  if (utf8Bytes(s) <= maxBytes) return s;
  const budget = maxBytes - utf8Bytes(ELLIPSIS);
  if (budget < 0) return '';
  let used = 0;
  let end = 0;
  for (const ch of s) {
    const size = utf8Bytes(ch);
    if (used + size > budget) break;
    used += size;
    end += ch.length;
  }
  return `${s.slice(0, end)}${ELLIPSIS}`;
}

/** Size of `s` in bytes of UTF-8. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** One clean line: no escapes, controls, line breaks or invisible characters, whitespace collapsed, cut to `max`. */
export function oneLine(s: string, max: number = Number.POSITIVE_INFINITY): string {
  const flat = stripTerminalEscapes(s)
    .replace(BREAKING_CONTROLS, ' ')
    .replace(INVISIBLES, '')
    .replace(/\s+/gu, ' ')
    .trim();
  return truncate(flat, max);
}

/** Breaks `http://` and `https://` so mail and chat clients do not turn attacker text into a clickable link. */
export function defangUrls(s: string): string {
  return s.replace(URL_SCHEME, (_match, secure: string) => `hxxp${secure}://`);
}

/** Escapes text for Slack markdown: no mention, link, code span or `*_~` formatting can come from it. */
export function slackEscape(s: string): string {
  return slackEscapeLiteral(s).replace(/\*/g, '∗').replace(/_/g, 'ˍ').replace(/~/g, '∼').replace(/\]\(/g, '] (');
}

/**
 * Escapes text for Slack where it must stay exact (inside a code span, or an identifier such as an ARN): `&`, `<`,
 * `>` become entities, backticks a look-alike, bare `@here`-style mentions are broken; `*_~` are kept.
 */
export function slackEscapeLiteral(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/`/g, 'ˋ')
    .replace(BARE_MENTION, (_match, before: string, name: string) => `${before}＠${name}`);
}

/** Wraps text in a Slack code span, so identifiers, JSON and commands keep their `*_~` and render verbatim. */
export function slackCode(s: string): string {
  return s === '' ? '(empty)' : `\`${slackEscapeLiteral(s)}\``;
}

/**
 * A Slack code span whose text copies back exactly as `s`, or `undefined` when none can: Slack shows `&amp;`, `&lt;`
 * and `&gt;` as the characters, but a backtick (which would close the span) or a bare `@here`-style mention (which
 * would notify the channel) can only be shown altered. For commands, which must never change silently.
 */
export function slackCodeExact(s: string): string | undefined {
  if (s === '') return undefined;
  const escaped = slackEscapeLiteral(s);
  const shown = escaped.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return shown === s ? `\`${escaped}\`` : undefined;
}

/** Applies `escaper` to the longest prefix of `raw` (cut with `…`) whose escaped form is at most `max` characters. */
export function escapeWithin(raw: string, max: number, escaper: (s: string) => string): string {
  // Escaping can grow text several times over (`<` is four characters escaped), so search for the longest cut.
  let lo = 0;
  let hi = Math.min(raw.length, Math.max(0, max));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (escaper(truncate(raw, mid)).length <= max) lo = mid;
    else hi = mid - 1;
  }
  const out = escaper(truncate(raw, lo));
  return out.length <= max ? out : '';
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
