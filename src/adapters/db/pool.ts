import { isServiceError, lockBusy, ServiceError } from '../../errors.js';
import { translateDriverError } from './errors.js';
import { runTransaction } from './session.js';
import { advisoryUnlockSql, releaseAdvisoryLockSql, tryAdvisoryLockSql } from '../../sql/session.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import { type Database, type DriverName, type Queryable, type Row, type Session } from './types.js';
import { submittingTimer } from './timing.js';

const sessionNotKept = () =>
  new ServiceError(
    'not-configured',
    "The database connection did not keep one session: a pooler in transaction mode stands between the service and PostgreSQL. Point DATABASE_URL at the database's direct host.",
  );

/** The part of node-postgres' Pool that pg and the Neon driver share. */
export interface PgCompatiblePool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  connect(): Promise<PgCompatibleClient>;
  end(): Promise<void>;
  /** Requests waiting for a connection (node-postgres' public counter; Neon's Pool inherits it). */
  readonly waitingCount: number;
  /** Connections open, and of those the idle ones (node-postgres' public counters). */
  readonly totalCount: number;
  readonly idleCount: number;
}

/** How long quiesce waits for the pool's busy connections to come back before it lets fn see them. */
export const QUIESCE_WAIT_MS = 10_000;

/** How many connections a pool opens, and how many requests may queue for one before the next is refused. */
export interface PoolBounds {
  max: number;
  maxWaiting: number;
}

/** Requests may queue for a connection up to this many times the pool's size; past that they are refused at once. */
export const WAITING_PER_CONNECTION = 10;
export const poolBounds = (max: number): PoolBounds => ({ max, maxWaiting: max * WAITING_PER_CONNECTION });

/**
 * Every connection is taken and the queue for one is full: the caller is refused at once (503
 * with Retry-After) rather than left to wait for connectionTimeoutMillis, so a flood of reads
 * costs memory and time bounded by the queue, and says what it is.
 */
const poolBusy = ({ max, maxWaiting }: PoolBounds) =>
  new ServiceError(
    'database-unavailable',
    `All ${max} of the service's connections to the SARK database are busy and ${maxWaiting} requests wait for one; retry in a few seconds.`,
    { facts: { reason: 'connections-busy' } },
  );

export interface PgCompatibleClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  release(destroy?: boolean | Error): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

const listening = new WeakSet<PgCompatibleClient>();

function queryableOf(target: Pick<PgCompatibleClient, 'query'>): Queryable {
  const queryable: Queryable = {
    async query<R extends Row>(text: string, params: readonly unknown[] = []) {
      try {
        const result = await target.query(text, [...params]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      } catch (error) {
        return translateDriverError(error);
      }
    },
  };
  // A checked-out client takes the driver's Query subclassed to time a statement; the pool
  // (a statement per connection it picks) has no connection of its own to time on.
  const time = submittingTimer(target);
  if (time) queryable.timed = (text, params = []) => time(text, params).catch(translateDriverError);
  return queryable;
}

async function checkout(pool: PgCompatiblePool): Promise<PgCompatibleClient> {
  let client: PgCompatibleClient;
  try {
    client = await pool.connect();
  } catch (error) {
    return translateDriverError(error);
  }
  // A connection lost while checked out also fails its pending query, which reports it; the
  // client's own 'error' event must not become an uncaught exception.
  if (!listening.has(client)) {
    listening.add(client);
    client.on('error', () => undefined);
  }
  return client;
}

/**
 * What every connection of the service starts with (startup parameters), so that no statement
 * runs without a bound, whichever connection it takes and whatever holds the lease meanwhile:
 * the longest a statement of ours may run (a rollback's last batch; a transaction's own SET
 * LOCAL is shorter), the longest it waits for a lock, and how long a transaction may sit idle
 * (a client that went away mid-transaction). A session that needs longer (an index build) sets
 * its own and puts these back.
 */
export const CONNECTION_LIMITS = {
  statement_timeout: 600_000,
  lock_timeout: 60_000,
  idle_in_transaction_session_timeout: 300_000,
} as const;

/** A Database over any pg-compatible pool: one connection per transaction or locked session. */
export function poolDatabase(pool: PgCompatiblePool, driver: DriverName, bounds: PoolBounds): Database {
  // While quiesced (a rehearsal's TEMPLATE copy of this database), checkouts wait here.
  let quiesced: Promise<void> | null = null;
  // Synchronous when not quiesced: the queue is counted as the checkout joins it, in the same tick.
  const admit = (): Promise<void> | undefined => {
    if (quiesced) return quiesced.then(admit);
    if (pool.waitingCount >= bounds.maxWaiting) throw poolBusy(bounds);
    return undefined;
  };
  const pooled = queryableOf(pool);
  const sessionOf = (client: PgCompatibleClient): Session => {
    const conn = queryableOf(client);
    return { query: conn.query, transaction: (fn, options) => runTransaction(conn, fn, options) };
  };

  /**
   * Borrows one connection. One that lost its server is destroyed; one that merely ran a
   * failing statement (already rolled back) goes back to the pool.
   */
  async function withClient<T>(fn: (client: PgCompatibleClient, discard: () => void) => Promise<T>): Promise<T> {
    const waiting = admit();
    if (waiting) await waiting;
    const client = await checkout(pool);
    let broken = false;
    try {
      return await fn(client, () => (broken = true));
    } catch (error) {
      // Or one an operation says must not be lent again (a cancel may still be on its way to it).
      broken ||= isServiceError(error, 'database-unavailable', 'cancelled');
      throw error;
    } finally {
      client.release(broken);
    }
  }

  return {
    driver,
    query: async (text, params) => {
      const waiting = admit();
      if (waiting) await waiting;
      return pooled.query(text, params);
    },
    transaction: (fn, options) => withClient((client) => sessionOf(client).transaction(fn, options)),
    withAdvisoryLock: <T>(fn: (session: Session) => Promise<T>) =>
      withClient(async (client, discard) => {
        const session = sessionOf(client);
        const { locked, pid } = await queryOne(session, tryAdvisoryLockSql());
        if (!locked) throw lockBusy();
        let result: T;
        try {
          result = await fn(session);
        } catch (error) {
          // A connection that may still hold the lock must never serve anyone else.
          await execute(session, advisoryUnlockSql()).catch(discard);
          throw error;
        }
        // The session must have been one backend throughout: a pooler in transaction mode
        // (PgBouncer, Supavisor, RDS Proxy), whatever its host is called, hands each statement
        // to any backend, and session settings and the lock do not hold there.
        const [released] = await queryRows(session, releaseAdvisoryLockSql()).catch(() => {
          discard();
          return [];
        });
        if (released && (!released.held || released.pid !== pid)) {
          discard();
          throw sessionNotKept();
        }
        return result;
      }),
    async quiesce<T>(fn: () => Promise<T>): Promise<T> {
      while (quiesced) await quiesced;
      let reopen!: () => void;
      quiesced = new Promise<void>((resolve) => (reopen = resolve));
      try {
        const deadline = Date.now() + QUIESCE_WAIT_MS;
        while (pool.totalCount > pool.idleCount && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
        // Checkouts take the idle connections first: each is taken and closed.
        const idle = await Promise.all(Array.from({ length: pool.idleCount }, () => checkout(pool)));
        for (const client of idle) client.release(true);
        return await fn();
      } finally {
        quiesced = null;
        reopen();
      }
    },
    close: () => pool.end(),
  };
}
