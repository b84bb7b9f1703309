import { setLocalSql, transactionModesSql } from '../../sql/session.js';
import { execute } from '../../sql/sql.js';
import type { Queryable, TransactionOptions } from './types.js';

/** Applies a transaction's options right after BEGIN; values are bound, never spliced. */
export async function applyTransactionOptions(tx: Queryable, options: TransactionOptions = {}): Promise<void> {
  const modes = transactionModesSql(options);
  if (modes) await execute(tx, modes);
  if (options.statementTimeoutMs !== undefined) {
    await execute(tx, setLocalSql('statement_timeout', `${options.statementTimeoutMs}ms`));
  }
  if (options.lockTimeoutMs !== undefined) await execute(tx, setLocalSql('lock_timeout', `${options.lockTimeoutMs}ms`));
  if (options.timeZone !== undefined) await execute(tx, setLocalSql('TimeZone', options.timeZone));
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
