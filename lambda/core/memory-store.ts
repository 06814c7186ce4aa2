import type { World } from './effects';
import type { Surroundings } from './judge';
import { labelOf, lookup } from './state';
import type { ResourceSnapshot } from './types';

/**
 * Resource states and baselines held in memory: the whole world of an offline replay, or the slice of
 * it the live detector loaded from DynamoDB for one event.
 */
export class MemoryStore implements World, Surroundings {
  private readonly states = new Map<string, ResourceSnapshot>();
  private readonly baselines = new Map<string, ResourceSnapshot>();
  private readonly reads = new Map<string, ResourceSnapshot>();
  private readonly settled = new Set<string>();

  /** @param knownTrailKeys keys known to encrypt a trail whose creation the replay will not see. */
  constructor(private readonly knownTrailKeys: readonly string[] = []) {}

  snapshot(arn: string): ResourceSnapshot | undefined {
    return this.states.get(arn);
  }

  baseline(arn: string): ResourceSnapshot | undefined {
    return this.baselines.get(arn);
  }

  putState(snapshot: ResourceSnapshot): void {
    this.states.set(snapshot.arn, snapshot);
  }

  putBaseline(snapshot: ResourceSnapshot): void {
    this.baselines.set(snapshot.arn, snapshot);
  }

  /**
   * What the live detector read of a resource after the event it judges (`World.liveRead`); `settled` when it takes the
   * read as the truth over the event (`World.settledRead`).
   */
  putLiveRead(snapshot: ResourceSnapshot, { settled = false }: { settled?: boolean } = {}): void {
    this.reads.set(snapshot.arn, snapshot);
    if (settled) this.settled.add(snapshot.arn);
    else this.settled.delete(snapshot.arn);
  }

  liveRead(arn: string): ResourceSnapshot | undefined {
    return this.reads.get(arn);
  }

  settledRead(arn: string): ResourceSnapshot | undefined {
    return this.settled.has(arn) ? this.reads.get(arn) : undefined;
  }

  resources(): string[] {
    return [...new Set([...this.states.keys(), ...this.baselines.keys()])].sort();
  }

  aliasTarget(alias: string): string | undefined {
    const target = lookup(this.states.get(alias), 'target_key_id');
    return typeof target === 'string' ? target : undefined;
  }

  trailsUsingKey(keyArn: string): string[] {
    const trails: string[] = [];
    for (const snapshot of this.states.values()) {
      if (snapshot.kind !== 'trail' || snapshot.attributes.trail === 'deleted') continue;
      if (snapshot.attributes.kms_key_id === keyArn) trails.push(snapshot.arn);
    }
    if (trails.length === 0 && this.knownTrailKeys.includes(keyArn)) trails.push('a trail (configured trailKeys)');
    return trails;
  }

  /** How alerts name a resource: see {@link labelOf}. */
  labelOf(arn: unknown): string {
    if (typeof arn !== 'string' || arn === '') return 'an unknown key';
    return labelOf(arn, this.states.get(arn), this.baselines.get(arn));
  }
}
