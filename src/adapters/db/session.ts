import { isServiceError, ServiceError } from '../../errors.js';
import { setLocalSql, transactionModesSql } from '../../sql/session.js';
import { execute } from '../../sql/sql.js';
import type { Queryable, TransactionOptions } from './types.js';

const snapshotTooOld = (maxMs: number, cause?: unknown) =>
  new ServiceError(
    'statement-timeout',
    `The operation held its read-only snapshot for ${Math.round(maxMs / 1000)} s, the most it may (a snapshot holds back VACUUM); its transaction was rolled back. Narrow the request or retry when the database is less busy.`,
    { facts: { snapshotMaxMs: maxMs }, cause },
  );

/**
 * Applies a transaction's options right after BEGIN (values bound, never spliced), and gives
 * the transaction as fn sees it: with `snapshotMaxMs`, one whose statements never run past that
 * age of the transaction, their statement_timeout cut to what is left when less is left.
 */
export async function applyTransactionOptions(tx: Queryable, options: TransactionOptions = {}): Promise<Queryable> {
  const openedAt = Date.now();
  const modes = transactionModesSql(options);
  if (modes) await execute(tx, modes);
  const { snapshotMaxMs: maxMs } = options;
  let timeoutMs = options.statementTimeoutMs;
  // Whether the statement_timeout in force is the snapshot's bound rather than the statement's own.
  let cut = false;
  if (maxMs !== undefined && (timeoutMs === undefined || maxMs < timeoutMs)) {
    timeoutMs = Math.max(1, maxMs);
    cut = true;
  }
  if (timeoutMs !== undefined) await execute(tx, setLocalSql('statement_timeout', `${timeoutMs}ms`));
  if (options.lockTimeoutMs !== undefined) await execute(tx, setLocalSql('lock_timeout', `${options.lockTimeoutMs}ms`));
  if (options.timeZone !== undefined) await execute(tx, setLocalSql('TimeZone', options.timeZone));
  if (maxMs === undefined) return tx;

  const bounded = async <T>(run: () => Promise<T>): Promise<T> => {
    const left = maxMs - (Date.now() - openedAt);
    if (left <= 0) throw snapshotTooOld(maxMs);
    if (timeoutMs === undefined || left < timeoutMs) {
      timeoutMs = Math.max(1, left);
      cut = true;
      await execute(tx, setLocalSql('statement_timeout', `${timeoutMs}ms`));
    }
    try {
      return await run();
    } catch (error) {
      // Cancelled by the cut timeout: the snapshot's age, not the statement's own bound, stopped it.
      if (cut && isServiceError(error, 'statement-timeout')) throw snapshotTooOld(maxMs, error);
      throw error;
    }
  };
  return {
    query: (text, params) => bounded(() => tx.query(text, params)),
    ...(tx.timed ? { timed: (text, params) => bounded(() => tx.timed!(text, params)) } : {}),
  };
}

/** BEGIN, fn, COMMIT on one connection; ROLLBACK and rethrow when fn throws. */
export async function runTransaction<T>(
  conn: Queryable,
  fn: (tx: Queryable) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  await conn.query('BEGIN');
  let result: T;
  try {
    result = await fn(await applyTransactionOptions(conn, options));
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await conn.query('COMMIT');
  return result;
}
