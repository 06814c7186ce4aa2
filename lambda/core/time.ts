/** Date parsing for the formats CloudTrail and KMS write. Pure: no clock. */

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/**
 * Parses an event or deletion date into epoch milliseconds, or `undefined` when it is not a date.
 * Accepts ISO-8601, Panther's `2024-11-25 17:51:21.000000000`, and the form KMS writes in
 * ScheduleKeyDeletion responses, `Apr 12, 2021 18:58:30 PM` (24-hour clock with a stray AM/PM).
 */
export function parseAwsDate(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const spaced = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (spaced) {
    const fraction = spaced[3] ? spaced[3].slice(0, 4) : '';
    const ms = Date.parse(`${spaced[1]}T${spaced[2]}${fraction}${spaced[4] ?? 'Z'}`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  const kms = /^([A-Za-z]{3})[a-z]* (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AP]M))?$/i.exec(text);
  if (kms) {
    const month = MONTHS[kms[1].toLowerCase()];
    if (month === undefined) return undefined;
    let hour = Number(kms[4]);
    // KMS prints a 24-hour clock and still appends AM/PM ("18:58:30 PM"); only a 12-hour reading needs fixing.
    if (kms[7] && hour <= 12) {
      const pm = kms[7].toUpperCase() === 'PM';
      if (pm && hour < 12) hour += 12;
      if (!pm && hour === 12) hour = 0;
    }
    return Date.UTC(Number(kms[3]), month, Number(kms[2]), hour, Number(kms[5]), Number(kms[6]));
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `2026-10-03T12:00:00Z`: ISO-8601 UTC without milliseconds, the finding's timestamp form. */
export function toIsoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
