/**
 * The date forms CloudTrail, KMS and log exporters write, read as UTC.
 */
import { parseAwsDate, toIsoSeconds } from '../../lambda/core/time';
import { detect, rec } from './harness';

const iso = (value: unknown) => {
  const ms = parseAwsDate(value);
  return ms === undefined ? undefined : toIsoSeconds(ms);
};

describe('Dates', () => {
  it('reads the deletion date KMS writes with a 24-hour clock and a stray PM', () => {
    expect(iso('Apr 12, 2021 18:58:30 PM')).toBe('2021-04-12T18:58:30Z');
  });

  it('reads the 12-hour form of the same field', () => {
    expect(iso('Nov 2, 2021, 11:25:25 PM')).toBe('2021-11-02T23:25:25Z');
    expect(iso('Jan 1, 2019 12:00:00 AM')).toBe('2019-01-01T00:00:00Z');
    expect(iso('Jul 10, 2019 12:29:54 PM')).toBe('2019-07-10T12:29:54Z');
  });

  it("reads Panther's eventTime with nanoseconds and no zone as UTC", () => {
    expect(iso('2024-11-25 17:51:21.000000000')).toBe('2024-11-25T17:51:21Z');
  });

  it('reads ISO-8601 with an offset', () => {
    expect(iso('2026-10-03T14:05:47+02:00')).toBe('2026-10-03T12:05:47Z');
  });

  it('reads epoch seconds and epoch milliseconds', () => {
    expect(iso(1633255247)).toBe('2021-10-03T10:00:47Z');
    expect(iso(1633255247000)).toBe('2021-10-03T10:00:47Z');
  });

  it('returns undefined for what is not a date', () => {
    expect(parseAwsDate('')).toBeUndefined();
    expect(parseAwsDate('Foo 12, 2021 18:58:30')).toBeUndefined();
    expect(parseAwsDate(null)).toBeUndefined();
    expect(parseAwsDate({ __class__: 'datetime' })).toBeUndefined();
  });

  it('puts the deletion date of a ScheduleKeyDeletion response into the finding as ISO-8601', () => {
    const { last } = detect([rec('ScheduleKeyDeletion__awskmsdg__1')]);
    expect(last.changes.deletion_date).toEqual({ before: null, after: '2021-04-12T18:58:30Z' });
    expect(last.summary).toBe(
      'Key 1234abcd-12ab-34cd-56ef-1234567890ab scheduled for deletion on 2021-04-12T18:58:30Z by Alice',
    );
  });

  it('says when the deletion of a multi-Region primary with replicas starts, which KMS gives no date for yet', () => {
    const { last } = detect([rec('ScheduleKeyDeletion__awskmsdg__2')]);
    expect(last.changes.key_state).toEqual({ before: null, after: 'PendingReplicaDeletion' });
    expect(last.summary).toBe(
      'Key mrk-1234abcd12ab34cd56ef1234567890ab scheduled for deletion, 30 days after its last replica is deleted, by Alice',
    );
  });

  it("stamps a finding from a Panther-normalized record with the record's time", () => {
    const { last } = detect([rec('PutEventSelectors__panther__1')]);
    expect(last.timestamp).toBe('2024-11-25T17:51:21Z');
  });
});
