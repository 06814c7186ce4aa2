/**
 * A small worker pool: runs an async task per item with at most `concurrency` in flight, starting items in order,
 * and stops starting new ones once `shouldStop()` says so (the tasks already started are awaited).
 */

export interface PoolOptions {
  concurrency: number;
  /** Checked before each item starts; once true, no further item starts. */
  shouldStop?: () => boolean;
}

/**
 * Runs `task` over `items`. Returns how many items were started, all of them finished: items `[0, started)` are
 * done and `[started, length)` were never touched, so a caller can resume exactly at `started`. The first task
 * that throws stops new starts; its error is rethrown once the running tasks have settled.
 *
 * @example
 * const started = await runPool(keys, (key) => reconcile(key), { concurrency: 8, shouldStop: () => timeLow() });
 */
export async function runPool<T>(
  items: readonly T[],
  task: (item: T, index: number) => Promise<void>,
  options: PoolOptions,
): Promise<number> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure && !options.shouldStop?.()) {
      const index = next++;
      try {
        await task(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw failure.error;
  return next;
}
