import type { Database } from '../adapters/db/types.js';
import { isServiceError, lockBusy, ServiceError } from '../errors.js';
import { applyMigrations, pendingMigrations, SERVICE_MIGRATIONS } from './migrate.js';

/**
 * The service's own schema (sark_migrate: the migration ledger and the rollback archive) is
 * brought up to date in one place: at start-up on Node, at the first use of the database in an
 * isolate on Workers. No operation applies it; /health reports what is still pending.
 */

/** Applies the pending service migrations under the advisory lock; with none pending, takes no lock. */
export async function applyServiceMigrations(db: Database): Promise<string[]> {
  if ((await pendingMigrations(db, SERVICE_MIGRATIONS)).length === 0) return [];
  const outcomes = await db.withAdvisoryLock((session) => applyMigrations(session, SERVICE_MIGRATIONS));
  return outcomes.filter((o) => o.outcome === 'applied' || o.outcome === 'adopted').map((o) => o.tag);
}

/**
 * Remembers, per database, the one attempt to bring its service schema up to date: under way,
 * or done. It keeps promises only, never a client, so a Worker may hold it across requests; a
 * failed attempt is forgotten, so the next use tries again.
 */
export class ServiceSchemaGate {
  private readonly attempts = new Map<string, Promise<void>>();

  ensure(database: string, db: Database): Promise<void> {
    let attempt = this.attempts.get(database);
    if (!attempt) {
      attempt = applyServiceMigrations(db).then(
        () => undefined,
        (error: unknown) => {
          this.attempts.delete(database);
          throw error;
        },
      );
      this.attempts.set(database, attempt);
    }
    return attempt;
  }
}

/**
 * The database as operations get it: its first use waits for the service's migrations. A read
 * goes on when they fail (it needs none of them, and a read-only role cannot apply them); a
 * changing run, which holds the advisory lock and may write into the archive, does not.
 */
export function withServiceSchema(db: Database, ensure: () => Promise<void>): Database {
  const attempted = () => ensure().catch(() => undefined);
  return {
    driver: db.driver,
    query: async (text, params) => (await attempted(), db.query(text, params)),
    transaction: async (fn, options) => (await attempted(), db.transaction(fn, options)),
    async withAdvisoryLock(fn) {
      await ensure().catch((error: unknown) => {
        if (isServiceError(error, 'lock-busy')) throw lockBusy();
        if (isServiceError(error, 'database-unavailable')) throw error;
        throw new ServiceError(
          'not-configured',
          `The service's own schema (sark_migrate) could not be brought up to date, so no changing operation can run: ${(error as Error).message}`,
          { cause: error },
        );
      });
      return db.withAdvisoryLock(fn);
    },
    close: () => db.close(),
  };
}
