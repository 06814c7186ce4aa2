/** Date parsing for the formats CloudTrail and KMS write. Pure: no clock, no local time zone. */

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

/** `2026-10-03T12:00:00Z`, with optional fractional seconds and an optional `Z` or `±hh[:]mm` offset; Panther's space form. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):?(\d{2}))?$/;
/** `Apr 12, 2021 18:58:30 PM` and `Nov 2, 2021, 11:25:25 PM`: the ScheduleKeyDeletion response forms. */
const KMS = /^([A-Za-z]{3})[a-z]* (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AP]M))?$/i;

/** Epoch milliseconds of a UTC date and time, or `undefined` when a field is out of range (no rolling over: Feb 30 is not Mar 2). */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, ms = 0) {
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year); // Date.UTC reads the years 0–99 as 1900–1999.
  const asGiven = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return asGiven ? date.getTime() : undefined;
}

/**
 * Parses an event or deletion date into epoch milliseconds, or `undefined` when it is not a date.
 * Accepts only the forms AWS writes, always as UTC whatever the machine's time zone: ISO-8601
 * (`2026-10-03T12:00:00Z`, fractional seconds and `+02:00` offsets allowed), Panther's
 * `2024-11-25 17:51:21.000000000` (no zone: UTC), the form KMS writes in ScheduleKeyDeletion responses,
 * `Apr 12, 2021 18:58:30 PM` (24-hour clock with a stray AM/PM), and epoch seconds or milliseconds as numbers.
 */
export function parseAwsDate(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const iso = ISO.exec(text);
  if (iso) {
    const [, year, month, day, hour, minute, second, fraction = '', zone, sign, offsetHours, offsetMinutes] = iso;
    const ms = utc(+year, +month, +day, +hour, +minute, +second, Number(fraction.slice(0, 3).padEnd(3, '0')));
    if (ms === undefined || !zone || zone === 'Z') return ms;
    if (+offsetHours > 23 || +offsetMinutes > 59) return undefined;
    return ms - (sign === '-' ? -1 : 1) * (+offsetHours * 60 + +offsetMinutes) * 60_000;
  }
  const kms = KMS.exec(text);
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
    return utc(Number(kms[3]), month, Number(kms[2]), hour, Number(kms[5]), Number(kms[6]));
  }
  return undefined;
}

/** `2026-10-03T12:00:00Z`: ISO-8601 UTC without milliseconds, the finding's timestamp form. */
export function toIsoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
