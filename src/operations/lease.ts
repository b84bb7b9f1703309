import type { Database, Queryable, Session, TransactionOptions } from '../adapters/db/types.js';
import { ServiceError } from '../errors.js';
import { fenceSql, leaseSql, releaseLeaseSql, renewLeaseSql, takeLeaseSql } from '../sql/runs.js';
import type { ReportKind } from '../reports/schemas.js';
import { execute, queryOne, queryRows } from '../sql/sql.js';
import type { OperationContext } from './runner.js';

/**
 * The lease a changing run holds on the database (sark_migrate.lease): one row, whose holder is
 * the run's report id. A Worker and a Node process take the same row, so they exclude each
 * other; unlike a session's advisory lock it outlives a connection, so a run made of many steps
 * (a Workflow's, each perhaps in another isolate) can hold it throughout.
 */

/** A holder that stops renewing loses the lease this long after its last renewal. */
export const LEASE_TTL_MS = 60_000;

export const leaseLost = (holder: string) =>
  new ServiceError(
    'lease-lost',
    `Run ${holder} no longer holds the database's lease (it expired and another run took it over), so it stopped before writing again.`,
    { facts: { runId: holder } },
  );

/** The 409 a second changing run gets: who holds the lease and until when. */
async function busy(db: Queryable): Promise<ServiceError> {
  const [row] = await queryRows(db, leaseSql());
  const facts = row?.holder ? { holder: row.holder, holderKind: row.kind, expiresAt: row.expires_at } : {};
  const who = row?.holder ? `run ${row.holder} (${row.kind})` : 'another changing run';
  return new ServiceError('lock-busy', `The database is held by ${who}; retry when it has finished, or cancel it.`, {
    facts,
  });
}

/** Who holds the lease now, and until when; null when no run holds it (or its holder let it expire). */
export async function currentLease(db: Queryable): Promise<{ holder: string; kind: string; expiresAt: string } | null> {
  const [row] = await queryRows(db, leaseSql());
  if (!row?.holder || row.expired) return null;
  return {
    holder: row.holder,
    kind: row.kind ?? '',
    expiresAt: row.expires_at ? new Date(row.expires_at).toISOString() : '',
  };
}

export class Lease {
  private constructor(
    private readonly db: Database,
    readonly holder: string,
    readonly ttlMs: number,
    /** The run whose expired lease this one took over; null when the lease was free. */
    readonly takenOverFrom: string | null,
  ) {}

  /** Takes the lease for run `holder`, or throws lock-busy naming the run that holds it. */
  static async take(db: Database, holder: string, kind: string, ttlMs = LEASE_TTL_MS): Promise<Lease> {
    const [taken] = await queryRows(db, takeLeaseSql(holder, kind, ttlMs));
    if (!taken) throw await busy(db);
    return new Lease(db, holder, ttlMs, taken.previous_holder);
  }

  /** Pushes the expiry on; throws lease-lost when another run has taken it over. */
  async renew(): Promise<void> {
    if ((await execute(this.db, renewLeaseSql(this.holder, this.ttlMs))) === 0) throw leaseLost(this.holder);
  }

  async release(): Promise<void> {
    await execute(this.db, releaseLeaseSql(this.holder));
  }

  /**
   * fn in one transaction that first checks, holding the lease row FOR KEY SHARE until it ends,
   * that this run still holds the lease: a run that lost it can never write again, and no run
   * can take it over while the transaction writes.
   */
  fenced<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.db.transaction(async (tx) => {
      await this.check(tx);
      return fn(tx);
    }, options);
  }

  /** The database as a session whose every transaction is fenced (for the schema phase's migrations). */
  get session(): Session {
    return {
      query: (text, params) => this.db.query(text, params),
      transaction: (fn, options) => this.fenced(fn, options),
    };
  }

  /** The fence, in the caller's transaction (one that is already open). */
  async check(tx: Queryable): Promise<void> {
    if (!(await queryOne(tx, fenceSql(this.holder))).holds) throw leaseLost(this.holder);
  }

  /**
   * Renews every third of the TTL until stopped, so a long statement does not let the lease
   * expire under a live run. A renewal that finds the lease lost is left to the next fence.
   */
  keepAlive(): () => void {
    const timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(10, this.ttlMs / 3));
    return () => clearInterval(timer);
  }
}

/**
 * fn with the lease held, renewed while fn runs and released after it, however it ends. A
 * session lock would be gone with its connection; a lease left by a crashed process expires.
 */
export async function withLease<T>(
  db: Database,
  run: Pick<OperationContext, 'runId' | 'tookOver' | 'leaseTtlMs'>,
  kind: ReportKind,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const holder = run.runId;
  const lease = await Lease.take(db, holder, kind, run.leaseTtlMs ?? LEASE_TTL_MS);
  if (lease.takenOverFrom) run.tookOver(lease.takenOverFrom);
  const stop = lease.keepAlive();
  try {
    return await fn(lease);
  } finally {
    stop();
    await lease.release().catch((error: unknown) => console.error(`run ${holder}: lease not released`, error));
  }
}
