import type { Database } from '../adapters/db/types.js';

/**
 * What /migrate and /rollback share to work in batches: each batch is one transaction on a
 * pooled connection, several at once, retried when it lost a race for a lock.
 */

/** Each batch may hold SARK's locks this long at most, and waits this long for one. */
export const BATCH_LIMITS = { statementTimeoutMs: 120_000, lockTimeoutMs: 5_000 } as const;

import { isServiceError } from '../errors.js';

/** A batch that lost a race for a lock (lock_timeout, deadlock, serialization) is tried again. */
const retryable = (error: unknown) => isServiceError(error, 'lock-timeout', 'write-conflict');
const MAX_ATTEMPTS = 4;

/** How long a batch's step may take: every attempt of withRetry, each waiting for its lock and running to its timeout. */
export const batchStep = (limits: { statementTimeoutMs: number; lockTimeoutMs: number }) => ({
  timeoutMs: MAX_ATTEMPTS * (limits.statementTimeoutMs + limits.lockTimeoutMs),
});

/** Batches at once: PGlite is one backend, so one stream there. */
export const streamsFor = (db: Database, parallelism: number) => (db.driver === 'pglite' ? 1 : parallelism);

export async function withRetry<T>(attempt: () => Promise<T>, onRetry: () => void): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= MAX_ATTEMPTS || !retryable(error)) throw error;
      onRetry();
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** n));
    }
  }
}

/**
 * Runs work on each batch next() hands out (null: none left), `streams` at once. After a
 * failure no batch starts and next() is not called again; the first failure is thrown.
 */
export async function inStreams<T>(
  streams: number,
  next: () => Promise<T | null>,
  work: (batch: T) => Promise<void>,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  const stream = async () => {
    while (!failure) {
      const batch = await next();
      if (batch === null || failure) return;
      await work(batch);
    }
  };
  await Promise.all(
    Array.from({ length: streams }, () => stream().catch((error: unknown) => void (failure ??= { error }))),
  );
  if (failure) throw failure.error;
}

/**
 * next() for streams that take batches in turn: each call waits for the one before it, so
 * batches are handed out in order even when choosing one is itself a step (bounds read from
 * the database, or a size chosen from the batches so far).
 */
export function oneAtATime<T>(next: () => Promise<T | null>): () => Promise<T | null> {
  let handing: Promise<unknown> = Promise.resolve();
  return () => {
    const batch = handing.then(next);
    handing = batch.catch(() => undefined);
    return batch;
  };
}
