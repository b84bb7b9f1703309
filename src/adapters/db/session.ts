import type { Queryable, TransactionOptions } from './types.js';

/** Applies a transaction's options right after BEGIN; values are bound, never spliced. */
export async function applyTransactionOptions(tx: Queryable, options: TransactionOptions = {}): Promise<void> {
  const modes = [
    options.isolation === 'repeatable read' ? 'ISOLATION LEVEL REPEATABLE READ' : '',
    options.readOnly ? 'READ ONLY' : '',
  ].filter(Boolean);
  if (modes.length > 0) await tx.query(`SET TRANSACTION ${modes.join(', ')}`);
  if (options.statementTimeoutMs !== undefined) {
    await tx.query("SELECT set_config('statement_timeout', $1, true)", [`${options.statementTimeoutMs}ms`]);
  }
  if (options.lockTimeoutMs !== undefined) {
    await tx.query("SELECT set_config('lock_timeout', $1, true)", [`${options.lockTimeoutMs}ms`]);
  }
  if (options.timeZone !== undefined) {
    await tx.query("SELECT set_config('TimeZone', $1, true)", [options.timeZone]);
  }
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
    await applyTransactionOptions(conn, options);
    result = await fn(conn);
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await conn.query('COMMIT');
  return result;
}
