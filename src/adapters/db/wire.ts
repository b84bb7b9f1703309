import type { Queryable, Timing } from './types.js';

/**
 * A statement timed at the wire, as pgbench times it: from writing Parse/Bind/Describe/
 * Execute/Sync to the arrival of ReadyForQuery, on the client's own connection (so inside its
 * transaction), counting the DataRow messages as they pass without decoding a field.
 *
 * Why not around the driver's query(): node-postgres turns every field of every row into a
 * JavaScript string and then a typed value, which at 100 rows adds 0.1-0.4 ms to a statement
 * the server answers in 0.3 ms, so sub-millisecond patterns would measure the driver. Here
 * the only client cost left is Node's socket I/O (about 0.01 ms a round trip, measured).
 *
 * The driver's connection is idle between statements, so its 'data' listeners are set aside
 * for the one statement and put back, in order, when it ends however it ends. pg and the Neon
 * driver (node-postgres' fork) expose the same `connection.stream`; a client without one
 * (PGlite has no wire) is timed around its query() instead.
 */

/** The part of a pg or Neon socket this needs: an event emitter with write(). */
interface WireStream {
  write(chunk: Uint8Array): unknown;
  /** A socket closed while the driver sat idle: writing to it raises no event at all. */
  destroyed?: boolean;
  writable?: boolean;
  /** The Neon driver's socket sends writes in a setTimeout(0) unless told not to: 1 ms inside every timed run under Node. */
  coalesceWrites?: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  listeners(event: string): ((...args: never[]) => void)[];
}

type Listener = (...args: never[]) => void;

/** The connection's stream when the client has one (pg, Neon), else undefined. */
export function wireStreamOf(client: unknown): WireStream | undefined {
  const stream = (client as { connection?: { stream?: Partial<WireStream> } } | null)?.connection?.stream;
  return stream && typeof stream.write === 'function' && typeof stream.listeners === 'function'
    ? (stream as WireStream)
    : undefined;
}

const encoder = new TextEncoder();

/** One frontend message: type byte, int32 length (itself included), body. */
function message(type: string, parts: Uint8Array[]): Uint8Array {
  const length = 4 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(1 + length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, length);
  let at = 5;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const cstring = (s: string) => encoder.encode(`${s}\0`);
const int16 = (n: number) => new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
};

/** A PostgreSQL array literal of text elements, every element quoted. */
const arrayLiteral = (values: unknown[]): string =>
  `{${values.map((v) => (v === null || v === undefined ? 'NULL' : Array.isArray(v) ? arrayLiteral(v) : `"${String(v).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;

const isPlainObject = (v: unknown) =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const isScalar = (v: unknown) =>
  v === null || v === undefined || ['string', 'number', 'boolean', 'bigint'].includes(typeof v);

/**
 * Values textValue sends exactly as node-postgres would: scalars, arrays of scalars, plain
 * objects (JSON). Dates, buffers and objects with toPostgres are left to the driver.
 */
export function wireEncodable(values: readonly unknown[]): boolean {
  const ok = (v: unknown): boolean => isScalar(v) || (Array.isArray(v) && v.every(ok)) || isPlainObject(v);
  return values.every(ok);
}

/** A bound value in text format, as node-postgres sends it: arrays as array literals, objects as JSON. */
export function textValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Parse, Bind, Describe (portal), Execute, Sync of an unnamed statement: what pg sends for query(text, values). */
export function extendedQuery(text: string, values: readonly unknown[]): Uint8Array {
  const params = values.map((v) => {
    const t = textValue(v);
    if (t === null) return int32(-1);
    const bytes = encoder.encode(t);
    const out = new Uint8Array(4 + bytes.length);
    out.set(int32(bytes.length));
    out.set(bytes, 4);
    return out;
  });
  const messages = [
    message('P', [cstring(''), cstring(text), int16(0)]),
    message('B', [cstring(''), cstring(''), int16(0), int16(params.length), ...params, int16(0)]),
    message('D', [encoder.encode('P'), cstring('')]),
    message('E', [cstring(''), int32(0)]),
    message('S', []),
  ];
  const out = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
  let at = 0;
  for (const m of messages) {
    out.set(m, at);
    at += m.length;
  }
  return out;
}

/** The fields of an ErrorResponse, as the Error node-postgres would throw (code, detail, ...). */
function errorOf(body: Uint8Array): Error {
  const fields: Record<string, string> = {};
  const decoder = new TextDecoder();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    fields[code] = decoder.decode(body.subarray(at + 1, end));
    at = end + 1;
  }
  return Object.assign(new Error(fields.M ?? 'error response from the server'), {
    code: fields.C,
    severity: fields.S,
    detail: fields.D,
    hint: fields.H,
  });
}

/** Runs one statement on the stream and times it; rejects with the server's error (its SQLSTATE in `code`). */
export function timeAtWire(stream: WireStream, text: string, values: readonly unknown[]): Promise<Timing> {
  if (stream.destroyed === true || stream.writable === false) return Promise.reject(terminated());
  const request = extendedQuery(text, values);
  const saved = stream.listeners('data');
  for (const l of saved) stream.removeListener('data', l);
  return new Promise<Timing>((resolve, reject) => {
    let pending: Uint8Array = new Uint8Array(0);
    let rows = 0;
    let failure: Error | undefined;
    let started = 0;
    const finish = (outcome: () => void, rest?: Uint8Array) => {
      stream.removeListener('data', onData as Listener);
      stream.removeListener('close', onClose as Listener);
      stream.removeListener('error', onError as Listener);
      for (const l of saved) stream.on('data', l);
      // Whatever came after ReadyForQuery in the same read (a notice, a notification) is the driver's.
      if (rest && rest.length > 0) for (const l of saved) (l as (chunk: Uint8Array) => void)(asDriverChunk(rest));
      outcome();
    };
    const onData = (chunk: Uint8Array) => {
      let buffer = pending.length > 0 ? concat(pending, chunk) : chunk;
      let at = 0;
      while (buffer.length - at >= 5) {
        const type = buffer[at]!;
        const length =
          ((buffer[at + 1]! << 24) | (buffer[at + 2]! << 16) | (buffer[at + 3]! << 8) | buffer[at + 4]!) >>> 0;
        if (buffer.length - at < 1 + length) break;
        if (type === 0x44)
          rows++; // DataRow
        else if (type === 0x45)
          failure = errorOf(buffer.subarray(at + 5, at + 1 + length)); // ErrorResponse
        else if (type === 0x5a) {
          // ReadyForQuery: the statement is over, and nothing else is in flight.
          const ms = performance.now() - started;
          return finish(() => (failure ? reject(failure) : resolve({ ms, rows })), buffer.subarray(at + 1 + length));
        }
        at += 1 + length;
      }
      buffer = buffer.subarray(at);
      pending = buffer.length > 0 ? buffer.slice() : new Uint8Array(0);
    };
    // A FATAL error (the backend terminated) arrives just before the close: that is the reason to give.
    const onClose = () => finish(() => reject(failure ?? terminated()));
    const onError = (error: Error) => finish(() => reject(error));
    stream.on('data', onData as Listener);
    stream.on('close', onClose as Listener);
    stream.on('error', onError as Listener);
    const coalescing = stream.coalesceWrites;
    try {
      if (coalescing !== undefined) stream.coalesceWrites = false; // one request, one send, now
      started = performance.now();
      stream.write(request);
    } catch (error) {
      finish(() => reject(error));
    } finally {
      if (coalescing !== undefined) stream.coalesceWrites = coalescing;
    }
  });
}

/** Where there is no wire to time at (PGlite), or a value only the driver can send: around the driver's call. */
export async function timeQuery(
  db: Pick<Queryable, 'query'>,
  text: string,
  values: readonly unknown[],
): Promise<Timing> {
  const started = performance.now();
  const result = await db.query(text, values);
  return { ms: performance.now() - started, rows: result.rows.length };
}

const terminated = () => new Error('Connection terminated: the statement could not be timed');

/** node-postgres' parser reads with Buffer methods: hand it a Buffer where the runtime has one. */
function asDriverChunk(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { isBuffer(b: unknown): boolean; from(b: Uint8Array): Uint8Array } }).Buffer;
  return B && !B.isBuffer(bytes) ? B.from(bytes) : bytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
