/**
 * The few database methods operations need. Every adapter (pg, Neon, PGlite) implements
 * exactly this; nothing outside src/adapters/db imports a driver.
 *
 * Row values come back as the drivers agree on them: int4 as number, text as string,
 * jsonb as parsed JSON, timestamptz as Date. Cast counts to int (`count(*)::int`) rather
 * than relying on how a driver parses int8 or numeric.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** One statement timed: milliseconds from sending it to the server being ready again, and the rows it returned. */
export interface Timing {
  ms: number;
  rows: number;
}

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * Runs a statement and times it as pgbench does, from sending it to ReadyForQuery, its rows
   * counted but never turned into row objects (adapters/db/timing.ts: the driver's Query,
   * subclassed, submitted to the client). Only on a checked-out pg or Neon connection; where
   * absent (PGlite), time query() instead.
   */
  timed?(text: string, params?: readonly unknown[]): Promise<Timing>;
}

export interface TransactionOptions {
  readOnly?: boolean;
  /** One snapshot for every statement of the transaction (read committed otherwise). */
  isolation?: 'repeatable read';
  /** SET LOCAL statement_timeout, in milliseconds. */
  statementTimeoutMs?: number;
  /**
   * The oldest the transaction (its snapshot) may grow, in milliseconds: no statement runs past
   * it, and one started after it is refused (statement-timeout, `snapshotMaxMs` in its facts).
   */
  snapshotMaxMs?: number;
  /** SET LOCAL lock_timeout, in milliseconds. */
  lockTimeoutMs?: number;
  /** SET LOCAL TimeZone: timestamps written into JSON render in it. */
  timeZone?: 'UTC';
}

export interface Session extends Queryable {
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export type DriverName = 'pg' | 'neon' | 'pglite';

export interface Database extends Session {
  readonly driver: DriverName;
  /**
   * Runs fn on one dedicated connection that holds the service's session-level advisory
   * lock for fn's whole duration. Throws LockBusyError at once when another session holds it.
   */
  withAdvisoryLock<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /**
   * Before a changing run: puts in place what one needs (the service's own schema, where the
   * database is wrapped by src/db/service-migrations.ts), or throws why it cannot.
   */
  prepareChange?(): Promise<void>;
  /**
   * Runs fn while this database holds no connection of its own to the server (a pool's idle ones
   * closed, new checkouts waiting until fn ends): what CREATE DATABASE ... TEMPLATE needs of the
   * service's own pools on its source. Busy connections are waited for a while, then left to fn
   * to see. Pools only; absent elsewhere.
   */
  quiesce?<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The advisory lock every changing operation takes: pg_try_advisory_lock(LOCK_CLASS, LOCK_ID). */
export const ADVISORY_LOCK = { classId: 0x5a4b, objectId: 2 } as const;
