import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { RowWatcher, Watch } from './timing.js';

const DATA_ROW = 0x44; // 'D'
const READY_FOR_QUERY = 0x5a; // 'Z'

/**
 * The TCP transport of a node-postgres connection, given to it through its public `stream`
 * option (src/adapters/db/pg.ts). It passes every byte on as it comes, except while a timed
 * statement's answer arrives (watch()): then it counts the DataRow messages and holds them back,
 * and notes when ReadyForQuery arrived. node-postgres would otherwise turn every field of every
 * row into a string before anything else could run (about 1 µs a row on a 2-core machine, 0.1 ms
 * for a 100-row pattern), work pgbench does not do, and the next read of a longer answer would
 * wait for it. Every other message, the errors and ReadyForQuery included, reaches the driver, so
 * its protocol state is what it would be.
 *
 * A connection with TLS does not use it: node-postgres wraps its TLS socket around the stream it
 * was given, and only encrypted bytes would pass here.
 */
export class PgTransport extends Duplex implements RowWatcher {
  readonly #socket = new Socket();
  #watching: Watch | null = null;
  /** Bytes still to come of the message at hand: a DataRow's, held back, or another's, passed on. */
  #held = 0;
  #passed = 0;
  /** The message at hand is ReadyForQuery: the answer ends with it. */
  #last = false;
  /** A message header split between two reads. */
  #header = Buffer.alloc(0);

  constructor() {
    super({ allowHalfOpen: false });
    const socket = this.#socket;
    socket.on('connect', () => this.emit('connect'));
    socket.on('data', (chunk: Buffer) => {
      const passed = this.#watching ? this.#withoutRows(chunk) : chunk;
      if (passed.length > 0 && !this.push(passed)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  /** The answer to the statement about to be sent: its rows are counted, not passed on. */
  watch(): Watch {
    this.#watching = { rows: 0, sentAt: 0, readyAt: 0 };
    this.#held = this.#passed = 0;
    this.#last = false;
    this.#header = Buffer.alloc(0);
    return this.#watching;
  }

  /** The statement failed (its ErrorResponse passed): whatever else comes is the driver's, whole. */
  unwatch(watch: Watch): void {
    if (this.#watching === watch) this.#watching = null;
  }

  connect(port: number, host: string): this {
    this.#socket.connect(port, host);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.#socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  ref(): this {
    this.#socket.ref();
    return this;
  }

  unref(): this {
    this.#socket.unref();
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.#sending();
    this.#socket.write(chunk, encoding, done);
  }

  /** A corked batch (node-postgres corks a statement's Parse ... Sync): one write, as the socket would. */
  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    const request = Buffer.concat(chunks.map((c) => c.chunk));
    this.#sending();
    this.#socket.write(request, done);
  }

  /** The watched statement leaves now: its clock starts here, as pgbench's does, the messages already made. */
  #sending(): void {
    if (this.#watching && this.#watching.sentAt === 0) this.#watching.sentAt = performance.now();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#socket.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#socket.destroy();
    done(error);
  }

  /** A read of the watched answer, without its DataRows: what the driver gets of it. */
  #withoutRows(chunk: Buffer): Buffer {
    const watch = this.#watching!;
    const arrivedAt = performance.now();
    const kept: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#held > 0) {
        const n = Math.min(this.#held, chunk.length - at);
        this.#held -= n;
        at += n;
        continue;
      }
      if (this.#passed > 0) {
        const n = Math.min(this.#passed, chunk.length - at);
        kept.push(chunk.subarray(at, at + n));
        this.#passed -= n;
        at += n;
        if (this.#passed === 0 && this.#last) {
          // The answer is over: what follows in this read is the driver's, whole.
          this.#watching = null;
          kept.push(chunk.subarray(at));
          break;
        }
        continue;
      }
      // A message's header: type and length, read off the chunk, or put together across two reads.
      let type: number;
      let body: number;
      if (this.#header.length === 0 && chunk.length - at >= 5) {
        type = chunk[at]!;
        body = chunk.readInt32BE(at + 1) - 4;
        at += 5;
        if (type !== DATA_ROW) kept.push(chunk.subarray(at - 5, at));
      } else {
        const take = Math.min(5 - this.#header.length, chunk.length - at);
        this.#header = Buffer.concat([this.#header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.#header.length < 5) break;
        type = this.#header[0]!;
        body = this.#header.readInt32BE(1) - 4;
        if (type !== DATA_ROW) kept.push(this.#header);
        this.#header = Buffer.alloc(0);
      }
      if (type === DATA_ROW) {
        watch.rows++;
        this.#held = body;
      } else {
        this.#passed = body;
        if (type === READY_FOR_QUERY) {
          watch.readyAt = arrivedAt;
          this.#last = true;
        }
      }
      if (this.#passed === 0 && this.#last) {
        this.#watching = null;
        kept.push(chunk.subarray(at));
        break;
      }
    }
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }
}
