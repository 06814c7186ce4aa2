/**
 * Reads CloudTrail trails' live state as the attributes the detection core compares: `trail`, `logging`,
 * `kms_key_id` (a key ARN), `multi_region`, `log_file_validation`, `s3_bucket_name`, `organization_trail`,
 * `include_global_service_events` and `event_selectors`.
 */

import {
  type AdvancedEventSelector,
  type CloudTrailClient,
  DescribeTrailsCommand,
  type DescribeTrailsCommandInput,
  type EventSelector,
  GetEventSelectorsCommand,
  type GetEventSelectorsCommandOutput,
  GetTrailStatusCommand,
  type Trail,
} from '@aws-sdk/client-cloudtrail';
import { normalizeSelectors } from '../core/effects';
import { snapshotFromState } from '../core/state';
import type { ResourceSnapshot } from '../core/types';
import { awsErrorName, isTransientAwsError, RetryableCloudTrailError } from './errors';

export interface TrailReaderOptions {
  client: CloudTrailClient;
}

export interface TrailReader {
  /**
   * Every trail this Region knows (its own, other Regions' multi-Region trails and organization trails), or those
   * `where` accepts. With `details: false`, one DescribeTrails call: enough to know which keys encrypt trails,
   * without `logging` and `event_selectors`.
   */
  readTrails(options?: { details?: boolean; where?: (trailArn: string) => boolean }): Promise<ResourceSnapshot[]>;
  /** One trail in full, in one round trip; a trail CloudTrail no longer knows reads as `trail: 'deleted'`. */
  readTrail(trailArn: string): Promise<ResourceSnapshot>;
}

// A trail (or a shadow copy) that vanished between calls, or a call that does not apply to it.
const GONE = new Set(['TrailNotFoundException']);
const NOT_APPLICABLE = new Set(['UnsupportedOperationException', 'OperationNotPermittedException']);

/**
 * Creates the trail reader.
 *
 * @example
 * const trails = await createTrailReader({ client: new CloudTrailClient({}) }).readTrails({ details: false });
 */
export function createTrailReader({ client }: TrailReaderOptions): TrailReader {
  /** Runs one call; what the SDK's own retries could not get past becomes a RetryableCloudTrailError. */
  async function send<T>(what: string, trail: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new RetryableCloudTrailError(
          `CloudTrail ${what} for ${trail} failed after retries: ${(error as Error).message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** A call about one trail's status or selectors: `undefined` when the trail is gone or the call does not apply. */
  async function call<T>(what: string, trail: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await send(what, trail, request);
    } catch (error) {
      const name = awsErrorName(error);
      if (name && (GONE.has(name) || NOT_APPLICABLE.has(name))) return undefined;
      throw error;
    }
  }

  /**
   * DescribeTrails, what says whether a trail exists: `undefined` when CloudTrail says the trail is not found. A
   * refusal (OperationNotPermittedException, UnsupportedOperationException) says nothing of that: it is thrown, never
   * read as a trail gone, nor as no trails at all.
   */
  async function describeTrails(trail: string, input: DescribeTrailsCommandInput) {
    try {
      return await send('DescribeTrails', trail, () => client.send(new DescribeTrailsCommand(input)));
    } catch (error) {
      if (GONE.has(awsErrorName(error) ?? '')) return undefined;
      throw error;
    }
  }

  async function details(trailArn: string): Promise<Record<string, unknown>> {
    const [status, selectors] = await Promise.all([
      call('GetTrailStatus', trailArn, () => client.send(new GetTrailStatusCommand({ Name: trailArn }))),
      call('GetEventSelectors', trailArn, () => client.send(new GetEventSelectorsCommand({ TrailName: trailArn }))),
    ]);
    const out: Record<string, unknown> = {};
    if (status && typeof status.IsLogging === 'boolean') out.logging = status.IsLogging;
    if (selectors) out.event_selectors = eventSelectors(selectors);
    return out;
  }

  async function readTrails(
    options: { details?: boolean; where?: (trailArn: string) => boolean } = {},
  ): Promise<ResourceSnapshot[]> {
    const described = await describeTrails('*', { includeShadowTrails: true });
    const trails = (described?.trailList ?? []).filter(
      (t): t is Trail & { TrailARN: string } => !!t.TrailARN && (options.where?.(t.TrailARN) ?? true),
    );
    if (options.details === false) return trails.map((t) => snapshotFromState('trail', t.TrailARN, trailState(t)));
    return Promise.all(
      trails.map(async (t) =>
        snapshotFromState('trail', t.TrailARN, { ...trailState(t), ...(await details(t.TrailARN)) }),
      ),
    );
  }

  async function readTrail(trailArn: string): Promise<ResourceSnapshot> {
    const [described, more] = await Promise.all([
      describeTrails(trailArn, { trailNameList: [trailArn], includeShadowTrails: true }),
      details(trailArn),
    ]);
    // By ARN, else by name (a multi-Region trail's ARN names its home Region, not the Region of the event); never
    // some other trail the call returned.
    const name = trailArn.slice(trailArn.lastIndexOf('/') + 1);
    const trail =
      described?.trailList?.find((t) => t.TrailARN === trailArn) ?? described?.trailList?.find((t) => t.Name === name);
    if (!trail) return snapshotFromState('trail', trailArn, { trail: 'deleted', logging: false });
    return snapshotFromState('trail', trailArn, { ...trailState(trail), ...more });
  }

  return { readTrails, readTrail };
}

/**
 * What DescribeTrails tells about a trail, named as the core names CreateTrail's and UpdateTrail's settings.
 * CloudTrail returns `KmsKeyId` as the full key ARN. A setting the answer leaves out stays unknown (left out here
 * too), never read as a change.
 */
export function trailState(trail: Trail): Record<string, unknown> {
  const flag = (value: boolean | undefined) => (typeof value === 'boolean' ? value : undefined);
  return {
    trail: 'exists',
    kms_key_id: trail.KmsKeyId || null,
    multi_region: trail.IsMultiRegionTrail === true,
    log_file_validation: trail.LogFileValidationEnabled === true,
    s3_bucket_name: trail.S3BucketName || undefined,
    organization_trail: flag(trail.IsOrganizationTrail),
    include_global_service_events: flag(trail.IncludeGlobalServiceEvents),
  };
}

/**
 * GetEventSelectors' answer, normalized by the core exactly as a PutEventSelectors request is (CloudTrail's record
 * of that request names the same fields in camel case): the same selectors read live and put by an event compare
 * equal.
 */
export function eventSelectors(
  output: Pick<GetEventSelectorsCommandOutput, 'EventSelectors' | 'AdvancedEventSelectors'>,
) {
  return normalizeSelectors({
    eventSelectors: (output.EventSelectors ?? []).map(basicSelector),
    advancedEventSelectors: (output.AdvancedEventSelectors ?? []).map(advancedSelector),
  });
}

function basicSelector(selector: EventSelector): Record<string, unknown> {
  return {
    readWriteType: selector.ReadWriteType,
    includeManagementEvents: selector.IncludeManagementEvents,
    dataResources: (selector.DataResources ?? []).map((r) => ({ type: r.Type, values: r.Values })),
    excludeManagementEventSources: selector.ExcludeManagementEventSources ?? [],
  };
}

function advancedSelector(selector: AdvancedEventSelector): Record<string, unknown> {
  return {
    name: selector.Name,
    fieldSelectors: (selector.FieldSelectors ?? []).map((f) => ({
      field: f.Field,
      equals: f.Equals,
      startsWith: f.StartsWith,
      endsWith: f.EndsWith,
      notEquals: f.NotEquals,
      notStartsWith: f.NotStartsWith,
      notEndsWith: f.NotEndsWith,
    })),
  };
}
