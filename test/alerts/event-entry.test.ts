import { createHash } from 'node:crypto';
import { entrySize, MAX_ENTRY_BYTES, toEventBridgeEntry } from '../../lambda/alerts/event-entry';
import type { Finding } from '../../lambda/core/types';
import { HOSTILE, hostileDescription, hugeFinding, KEY_ARN, largePolicyChange, putKeyPolicyOpened } from './fixtures';

const BUS = 'keydrift-findings';
const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');
const detailOf = (finding: Finding) => JSON.parse(toEventBridgeEntry(finding, BUS).Detail);

describe('toEventBridgeEntry', () => {
  it('wraps the finding as a keydrift "KMS Drift Finding" on the given bus, leaving Time to EventBridge', () => {
    const entry = toEventBridgeEntry(putKeyPolicyOpened, BUS);
    expect(entry).toEqual({
      Source: 'keydrift',
      DetailType: 'KMS Drift Finding',
      Detail: JSON.stringify(putKeyPolicyOpened),
      Resources: [KEY_ARN],
      EventBusName: BUS,
    });
    expect('Time' in entry).toBe(false);
  });

  it('sends the finding whole, hostile strings included, since machines read it as JSON', () => {
    expect(detailOf(hostileDescription)).toEqual(hostileDescription);
  });

  it('sends a change between two 32 KB policies whole, under the 256 KB limit', () => {
    const entry = toEventBridgeEntry(largePolicyChange, BUS);
    expect(entry.Detail).toBe(JSON.stringify(largePolicyChange));
    expect(entrySize(entry)).toBeGreaterThan(64_000);
    expect(entrySize(entry)).toBeLessThan(MAX_ENTRY_BYTES);
  });

  it('replaces only the largest value with its SHA-256 when the entry would pass 256 KB, and says so', () => {
    const tags = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`tag${i}`, HOSTILE.hugeTagValue]));
    const finding: Finding = {
      ...largePolicyChange,
      changes: { ...largePolicyChange.changes, tags: { before: {}, after: tags } },
    };
    const entry = toEventBridgeEntry(finding, BUS);
    const detail = JSON.parse(entry.Detail);
    expect(entrySize(entry)).toBeLessThan(MAX_ENTRY_BYTES);
    expect(detail.truncated).toEqual(['/changes/tags/after']);
    expect(detail.changes.tags.after).toEqual({
      truncated: true,
      sha256: sha256(tags),
      bytes: Buffer.byteLength(JSON.stringify(tags)),
    });
    expect(detail.changes.policy).toEqual(largePolicyChange.changes.policy);
  });

  it('keeps a huge finding under 256 KB with its identity intact and lists every value it replaced', () => {
    const entry = toEventBridgeEntry(hugeFinding, BUS);
    const detail = JSON.parse(entry.Detail);
    expect(entrySize(entry)).toBeLessThan(MAX_ENTRY_BYTES);
    expect(detail).toMatchObject({
      eventId: hugeFinding.eventId,
      event: 'PutKeyPolicy',
      resource: KEY_ARN,
      severity: 'critical',
      status: 'drift',
    });
    expect(detail.truncated).toEqual([
      '/changes/tags/after',
      '/changes/description/after',
      '/changes/policy/after',
      '/changes/policy/before',
      '/remediation',
      '/summary',
      '/reasons',
    ]);
    // Who gained access is kept whole: it is what a consumer acts on.
    expect(detail.changes.policy.added_principals).toEqual(hugeFinding.changes.policy!.added_principals);
    expect(detail.changes.policy.external_accounts).toEqual(hugeFinding.changes.policy!.external_accounts);
    expect(detail.summary).toHaveLength(1024);
    expect(detail.summary.startsWith('Key policy of alias/payments opened to 5000 accounts by Alice AAA')).toBe(true);
    expect(detail.reasons).toEqual({ truncated: true, sha256: sha256(hugeFinding.reasons), bytes: 100 * 1003 + 1 });
  });

  it('escapes "/" in attribute names in the JSON Pointers it lists', () => {
    const finding: Finding = {
      ...putKeyPolicyOpened,
      changes: { 'aliases.alias/app': { before: null, after: 'x'.repeat(300_000) } },
    };
    expect(detailOf(finding).truncated).toEqual(['/changes/aliases.alias~1app/after']);
  });

  it('shortens long top-level text, keeping its start, when no change value is large', () => {
    const finding: Finding = {
      ...putKeyPolicyOpened,
      changes: { key_state: { before: 'Enabled', after: 'Disabled' } },
      summary: 'S'.repeat(300_000),
    };
    const detail = detailOf(finding);
    expect(detail.truncated).toEqual(['/summary']);
    expect(detail.summary).toBe(`${'S'.repeat(1023)}…`);
    expect(detail.changes).toEqual(finding.changes);
  });
});

describe('entrySize', () => {
  it('counts Source, DetailType, Detail and Resources in UTF-8 bytes, and Time as 14', () => {
    expect(entrySize({ Source: 'a', DetailType: 'b', Detail: '{"k":"é"}', Resources: ['r'] })).toBe(13);
    expect(entrySize({ Source: 'a', DetailType: 'b', Detail: '{}', Resources: ['r'], Time: new Date(0) })).toBe(19);
  });
});
