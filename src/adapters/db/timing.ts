import type { Queryable, Timing } from './types.js';

/**
 * What one timed statement's answer brought: its rows, counted, and when ReadyForQuery arrived.
 */
export interface Watch {
  rows: number;
  /** performance.now() when the statement's messages went to the socket; 0 until then. */
  sentAt: number;
  /** performance.now() when the read holding ReadyForQuery reached the transport; 0 until then. */
  readyAt: number;
}

/**
 * A connection's transport that can count a timed answer's rows itself (PgTransport, pg without
 * TLS). Declared here, not imported, so that the Worker's program never sees node:net.
 */
export interface RowWatcher {
  watch(): Watch;
  unwatch(watch: Watch): void;
}

/**
 * A statement timed as pgbench times it: from sending it to the server being ready again, on
 * the client's own connection (so inside its transaction), its rows counted, never made into rows.
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
 * exactly as its query() does (Dates, arrays, JSON objects); the subclass starts a clock in
 * submit() and counts DataRow messages instead of turning them into rows.
 *
 * On a pg connection with a PgTransport (pg without TLS, src/adapters/db/pg.ts), the transport
 * does the counting: it holds the answer's DataRows back from the driver, notes when the request
 * left and when ReadyForQuery arrived, and the driver decodes no row at all, as pgbench decodes
 * none. Elsewhere (the Neon driver, pg over TLS), the clock runs from submit() and stops as follows.
 *
 * Where the clock stops: when the read that brought ReadyForQuery reached the driver, not when
 * the driver has finished with it. The driver's protocol parser turns each field of each DataRow
 * into a string before any handler sees the row (no public hook avoids that): about 1 µs a row
 * on a 2-core machine, 0.09-0.13 ms for a 100-row pattern, driver work pgbench does not do. The
 * driver hands over the messages of one read in one synchronous run of handler calls, so the
 * first handler call of that run is when the read arrived; the run that ends in
 * handleReadyForQuery gives the time. It can only err late, never early: bytes read before a run
 * starts cannot be handled earlier, and an earlier read still being parsed delays the next.
 */

/** The methods of node-postgres' Query that its Client calls, as pg 8 and the Neon driver's bundled copy define them. */
interface DriverQuery {
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
type DriverQueryClass = new (config: {
  text: string;
  values: unknown[];
  callback: (error: Error | null | undefined, result?: unknown) => void;
}) => DriverQuery;

/** The part of a pg or Neon client this needs: query() accepting a submittable. */
interface SubmittingClient {
  query(submittable: DriverQuery): unknown;
}

/** The one timed subclass per driver Query class. */
const timedClasses = new WeakMap<DriverQueryClass, ReturnType<typeof timedQueryClass>>();

function timedQueryClass(Base: DriverQueryClass) {
  return class TimedQuery extends Base {
    /** Not `rows`: Query uses that name for a portal's row limit. */
    #dataRows = 0;
    #startedAt = 0;
    /** When the read being handled reached the query: the time of its first message's handler call. */
    #readAt = 0;
    #inRead = false;

    /** Where the connection has a PgTransport (pg without TLS): it counts the rows, and notes ReadyForQuery. */
    readonly #transport: RowWatcher | undefined;
    #watch: Watch | undefined;

    constructor(
      text: string,
      values: readonly unknown[],
      done: (error: Error | null, timing?: Timing) => void,
      transport?: RowWatcher,
    ) {
      super({ text, values: [...values], callback: (error, timing) => done(error ?? null, timing as Timing) });
      this.#transport = transport;
    }

    /** Always Parse/Bind/Describe/Execute/Sync, as pgbench -M extended sends, even without parameters (the drivers would send a simple Query). */
    override requiresPreparation(): boolean {
      return true;
    }

    override submit(connection: unknown): Error | null | void {
      // The client submits a query when the answer to the one before has ended: what comes next is this one's.
      this.#watch = this.#transport?.watch();
      this.#startedAt = performance.now();
      return super.submit(connection);
    }

    override handleError(error: Error, connection: unknown): void {
      if (this.#watch) this.#transport!.unwatch(this.#watch);
      super.handleError(error, connection);
    }

    /** Notes the first message of each read: the run of handler calls ends before any microtask runs. */
    #arrived(): void {
      if (this.#inRead) return;
      this.#inRead = true;
      this.#readAt = performance.now();
      queueMicrotask(() => (this.#inRead = false));
    }

    /** No field parsers to set up: no row is built. */
    override handleRowDescription(): void {
      this.#arrived();
    }

    override handleDataRow(): void {
      this.#arrived();
      this.#dataRows++;
    }

    /** Nothing to record: the rows are counted as they come. (The base would also sync a portal read in pages; none is.) */
    override handleCommandComplete(): void {
      this.#arrived();
    }

    override handleEmptyQuery(): void {
      this.#arrived();
    }

    // handleError is the driver's own: it hands the error (a DatabaseError with its SQLSTATE in
    // `code`, or the connection's failure) to the callback. The client clears its active query
    // before calling it, and still waits for ReadyForQuery before it submits the next one.

    override handleReadyForQuery(): void {
      this.#arrived();
      const timing: Timing = this.#watch?.readyAt
        ? { ms: this.#watch.readyAt - (this.#watch.sentAt || this.#startedAt), rows: this.#watch.rows }
        : { ms: this.#readAt - this.#startedAt, rows: this.#dataRows };
      this.callback?.(null, timing);
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
  const transport = (client as { transport?: RowWatcher } | null)?.transport;
  if (typeof Query !== 'function' || typeof (client as Partial<SubmittingClient>).query !== 'function') return;
  let Timed = timedClasses.get(Query as DriverQueryClass);
  if (!Timed) timedClasses.set(Query as DriverQueryClass, (Timed = timedQueryClass(Query as DriverQueryClass)));
  const TimedQuery = Timed;
  const submitting = client as SubmittingClient;
  return (text, values) =>
    new Promise<Timing>((resolve, reject) => {
      const query = new TimedQuery(
        text,
        values,
        (error, timing) => (error ? reject(error) : resolve(timing!)),
        transport,
      );
      // The Neon driver sends a client's writes in a setTimeout(0) (coalesceWrites), 1 ms and
      // more inside every run under Node. The client submits at once when idle, as it is between
      // awaited statements, so its writes go out at once for this submission only: one WebSocket
      // message per protocol message. (One queued behind another statement is submitted later,
      // coalesced, the delay inside its time: slower, never wrong.)
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
