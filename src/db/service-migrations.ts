import type { Database } from '../adapters/db/types.js';
import { isServiceError, lockBusy, ServiceError } from '../errors.js';
import { applyMigrations, pendingMigrations, SERVICE_MIGRATIONS } from './migrate.js';

/**
 * The service's own schema (sark_migrate: the migration ledger and the rollback archive) is
 * brought up to date in one place: at start-up on Node, at the first use of the database in an
 * isolate on Workers, and checked again before every changing run. No operation applies it;
 * /health reports what is still pending.
 */

/** Applies the pending service migrations under the advisory lock; with none pending, takes no lock. */
export async function applyServiceMigrations(db: Database): Promise<string[]> {
  if ((await pendingMigrations(db, SERVICE_MIGRATIONS)).length === 0) return [];
  const outcomes = await db.withAdvisoryLock((session) => applyMigrations(session, SERVICE_MIGRATIONS));
  return outcomes.filter((o) => o.outcome === 'applied' || o.outcome === 'adopted').map((o) => o.tag);
}

/** After a failed attempt, reads leave the schema alone this long before they try again. */
const RETRY_AFTER_MS = 30_000;

/**
 * What is known, per database, of its service schema: current (for good), or failed lately.
 * It holds no client and no attempt in flight, so a Worker may keep it across requests: an
 * attempt belongs to the request (or, on Node, the process) that makes it.
 */
export class ServiceSchemaGate {
  private readonly current = new Set<string>();
  private readonly failedAt = new Map<string, number>();

  isCurrent = (database: string) => this.current.has(database);
  markCurrent = (database: string) => {
    this.current.add(database);
    this.failedAt.delete(database);
  };
  markFailed = (database: string) => void this.failedAt.set(database, Date.now());
  /** Whether reads should try to bring it up to date now. */
  worthTrying = (database: string) =>
    !this.current.has(database) && Date.now() - (this.failedAt.get(database) ?? 0) >= RETRY_AFTER_MS;
}

/**
 * The database as operations get it. Its first use brings the service's schema up to date; a
 * read goes on when that fails (it needs none of it, and a read-only role cannot make it), and
 * tries again only after a while. A changing run, which holds the advisory lock and may write
 * into the archive, checks the schema every time and does not start without it.
 */
export function withServiceSchema(db: Database, gate: ServiceSchemaGate, database: string): Database {
  let attempt: Promise<void> | undefined;
  const bringUpToDate = () =>
    applyServiceMigrations(db).then(
      () => gate.markCurrent(database),
      (error: unknown) => {
        gate.markFailed(database);
        console.warn(`The service's schema (sark_migrate) could not be brought up to date: ${String(error)}`);
        throw error;
      },
    );
  const beforeRead = async () => {
    if (!gate.worthTrying(database)) return;
    attempt ??= bringUpToDate().finally(() => (attempt = undefined));
    await attempt.catch(() => undefined);
  };
  return {
    driver: db.driver,
    query: async (text, params) => (await beforeRead(), db.query(text, params)),
    transaction: async (fn, options) => (await beforeRead(), db.transaction(fn, options)),
    // A changing run checks the schema every time: it holds the lease and may write into the archive.
    prepareChange: () =>
      bringUpToDate().catch((error: unknown) => {
        if (isServiceError(error, 'lock-busy')) throw lockBusy();
        if (isServiceError(error)) throw error;
        throw new ServiceError(
          'not-configured',
          "The service's own schema (sark_migrate) could not be brought up to date, so no changing operation can run; the service log says why.",
          { cause: error },
        );
      }),
    withAdvisoryLock: (fn) => db.withAdvisoryLock(fn),
    close: () => db.close(),
  };
}
