import { ADVISORY_LOCK } from '../adapters/db/types.js';
import { sql, type Sql } from './sql.js';

/** SQL the database adapters run around the operations' own: a transaction's options, the advisory lock. */

export interface TransactionModes {
  readOnly?: boolean | undefined;
  isolation?: 'repeatable read' | undefined;
}

/** SET TRANSACTION for the modes asked, or null when there are none. */
export function transactionModesSql({ readOnly, isolation }: TransactionModes): Sql | null {
  const modes = [isolation === 'repeatable read' ? 'ISOLATION LEVEL REPEATABLE READ' : '', readOnly ? 'READ ONLY' : ''];
  const chosen = modes.filter(Boolean);
  return chosen.length > 0 ? sql(`SET TRANSACTION ${chosen.join(', ')}`) : null;
}

/** The settings a transaction may take for itself (SET LOCAL), by name; values are bound. */
export type LocalSetting = 'statement_timeout' | 'lock_timeout' | 'TimeZone';

export const setLocalSql = (name: LocalSetting, value: string) => sql(`SELECT set_config($1, $2, true)`, [name, value]);

/** The service's advisory lock (ADVISORY_LOCK), which every changing operation takes. */
export const tryAdvisoryLockSql = () =>
  sql<{ locked: boolean; pid: number }>('SELECT pg_try_advisory_lock($1, $2) AS locked, pg_backend_pid() AS pid', [
    ADVISORY_LOCK.classId,
    ADVISORY_LOCK.objectId,
  ]);

/** Releases the lock: whether this backend held it, and which backend answered. */
export const releaseAdvisoryLockSql = () =>
  sql<{ held: boolean; pid: number }>('SELECT pg_advisory_unlock($1, $2) AS held, pg_backend_pid() AS pid', [
    ADVISORY_LOCK.classId,
    ADVISORY_LOCK.objectId,
  ]);

export const advisoryUnlockSql = () =>
  sql('SELECT pg_advisory_unlock($1, $2)', [ADVISORY_LOCK.classId, ADVISORY_LOCK.objectId]);
