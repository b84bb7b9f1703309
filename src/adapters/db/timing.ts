import type { Queryable, Timing } from './types.js';

/**
 * A statement timed as pgbench times it: from sending it to the server being ready again, on
 * the client's own connection (so inside its transaction), its rows counted but not decoded.
 *
 * Why not around the driver's query(): node-postgres turns every field of every row into a
 * typed value in a row object, which at 100 rows adds 0.1-0.4 ms to a statement the server
 * answers in 0.3 ms, so sub-millisecond patterns would measure the driver.
 *
 * How, through what pg and the Neon driver (node-postgres' fork) support: a submittable, i.e. an
 * object with submit(connection) handed to client.query(). The client queues it like any query,
 * calls submit() when the connection is free, then calls one handler on it per message from
 * the server (handleRowDescription, handleDataRow, handleCommandComplete, handleEmptyQuery,
 * handleError, handleReadyForQuery, ...) until ReadyForQuery. The submittable here is a
 * subclass of the driver's own Query, so the driver writes the messages and binds the values
 * exactly as its query() does (Dates, arrays, JSON objects); the subclass only starts a clock
 * in submit(), counts DataRow messages instead of turning them into rows, and stops the clock
 * at ReadyForQuery. The driver's protocol parser still splits each DataRow into its fields' text
 * (no public hook avoids that); the type parsing and the row objects are what is saved.
 */

/** The methods of node-postgres' Query that its Client calls, as pg 8 and the Neon driver's bundled copy define them. */
export interface DriverQuery {
  submit(connection: unknown): Error | null | void;
  requiresPreparation(): boolean;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleEmptyQuery(connection: unknown): void;
  handleError(error: Error, connection: unknown): void;
  handleReadyForQuery(connection: unknown): void;
  /** Set from the config; the client wraps it (query_timeout) and the base handleError calls it. */
  callback?: (error: Error | null | undefined, result?: unknown) => void;
}

/** The driver's Query constructor: `pg.Query`, which both drivers also expose as `Client.Query`. */
export type DriverQueryClass = new (config: {
  text: string;
  values: unknown[];
  callback: (error: Error | null | undefined, result?: unknown) => void;
}) => DriverQuery;

/** The part of a pg or Neon client this needs: query() accepting a submittable. */
export interface SubmittingClient {
  query(submittable: DriverQuery): unknown;
}

/** The one timed subclass per driver Query class. */
const timedClasses = new WeakMap<DriverQueryClass, ReturnType<typeof timedQueryClass>>();

function timedQueryClass(Base: DriverQueryClass) {
  return class TimedQuery extends Base {
    /** Not `rows`: Query uses that name for a portal's row limit. */
    dataRows = 0;
    startedAt = 0;

    constructor(text: string, values: readonly unknown[], done: (error: Error | null, timing?: Timing) => void) {
      super({ text, values: [...values], callback: (error, timing) => done(error ?? null, timing as Timing) });
    }

    /** Always Parse/Bind/Describe/Execute/Sync, as pgbench -M extended sends, even without parameters (the drivers would send a simple Query). */
    override requiresPreparation(): boolean {
      return true;
    }

    override submit(connection: unknown): Error | null | void {
      this.startedAt = performance.now();
      return super.submit(connection);
    }

    /** No field parsers to set up: no row is built. */
    override handleRowDescription(): void {}

    override handleDataRow(): void {
      this.dataRows++;
    }

    /** Nothing to record: the rows are counted as they come. (The base would also sync a portal read in pages; none is.) */
    override handleCommandComplete(): void {}

    override handleEmptyQuery(): void {}

    // handleError is the driver's own: it hands the error (a DatabaseError with its SQLSTATE in
    // `code`, or the connection's failure) to the callback. The client clears its active query
    // before calling it, and still waits for ReadyForQuery before it submits the next one.

    override handleReadyForQuery(): void {
      const ms = performance.now() - this.startedAt;
      this.callback?.(null, { ms, rows: this.dataRows } satisfies Timing);
    }
  };
}

/** The Neon driver's per-client settings (`client.neonConfig`); undefined on pg. */
interface NeonClientConfig {
  coalesceWrites: boolean;
}

/**
 * The timer of a checked-out pg or Neon client, which exposes its driver's Query class as
 * `Client.Query`; undefined for anything else (a pool, PGlite). It runs one statement on the
 * client and rejects with the error as the driver reports it: the server's, its SQLSTATE in
 * `code`, or the driver's own for a lost connection.
 */
export function submittingTimer(
  client: unknown,
): ((text: string, values: readonly unknown[]) => Promise<Timing>) | undefined {
  const Query = (client as { constructor?: { Query?: unknown } } | null)?.constructor?.Query;
  if (typeof Query !== 'function' || typeof (client as Partial<SubmittingClient>).query !== 'function') return;
  let Timed = timedClasses.get(Query as DriverQueryClass);
  if (!Timed) timedClasses.set(Query as DriverQueryClass, (Timed = timedQueryClass(Query as DriverQueryClass)));
  const TimedQuery = Timed;
  const submitting = client as SubmittingClient;
  return (text, values) =>
    new Promise<Timing>((resolve, reject) => {
      const query = new TimedQuery(text, values, (error, timing) => (error ? reject(error) : resolve(timing!)));
      // The Neon driver sends a client's writes in a setTimeout(0) (coalesceWrites), 1 ms and
      // more inside every run under Node. The client submits at once when idle, as it is between
      // awaited statements, so writes go out at once for this submission only.
      const neon = (client as { neonConfig?: NeonClientConfig }).neonConfig;
      const coalescing = neon?.coalesceWrites;
      try {
        if (neon) neon.coalesceWrites = false;
        submitting.query(query);
      } catch (error) {
        reject(error);
      } finally {
        if (neon) neon.coalesceWrites = coalescing!;
      }
    });
}

/** Where there is no driver Query to submit (PGlite): around the driver's query(). */
export async function timeQuery(
  db: Pick<Queryable, 'query'>,
  text: string,
  values: readonly unknown[],
): Promise<Timing> {
  const started = performance.now();
  const result = await db.query(text, values);
  return { ms: performance.now() - started, rows: result.rows.length };
}
