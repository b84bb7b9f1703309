import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PgTransport } from './pg-transport.js';

/** One backend message: type, int32 length (itself included), body. */
const message = (type: string, body: string) => {
  const bytes = Buffer.from(body);
  const out = Buffer.alloc(5 + bytes.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + bytes.length, 1);
  bytes.copy(out, 5);
  return out;
};

const ROW_DESCRIPTION = message('T', 'a row description');
const ROW = (n: number) => message('D', `row ${n} `.repeat(n % 7));
const COMPLETE = message('C', 'SELECT 3\0');
const READY = message('Z', 'T');
const NOTICE_AFTER = message('N', 'a notice after the answer');

/** The answer to a statement of three rows, and a message after it that is not the statement's. */
const answer = Buffer.concat([ROW_DESCRIPTION, ROW(1), ROW(2), ROW(3), COMPLETE, READY]);
const withoutRows = Buffer.concat([ROW_DESCRIPTION, COMPLETE, READY]);

let server: Server | undefined;
const open = new Set<PgTransport>();
afterEach(async () => {
  // A failed expectation leaves its transport open, and server.close() would wait for it.
  for (const transport of open) transport.destroy();
  open.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** Polls until `holds` (this machine is shared: no fixed sleep is long enough). */
async function until(holds: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !holds(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}

/**
 * A transport connected to a server that sends `reads` one after another, once the client has
 * written; `paced`: one read for each write of the client.
 */
async function connected(
  reads: Buffer[],
  { paced = false } = {},
): Promise<{ transport: PgTransport; received: () => Buffer; serverSide: () => Socket }> {
  let serverSide!: Socket;
  server = createServer((socket) => {
    serverSide = socket;
    if (paced) {
      let next = 0;
      socket.on('data', () => void (next < reads.length && socket.write(reads[next++]!)));
      return;
    }
    socket.once('data', async () => {
      for (const read of reads) {
        socket.write(read);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const transport = new PgTransport();
  open.add(transport);
  const chunks: Buffer[] = [];
  transport.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve) => {
    transport.once('connect', () => resolve());
    transport.connect((server!.address() as { port: number }).port, '127.0.0.1');
  });
  return { transport, received: () => Buffer.concat(chunks), serverSide: () => serverSide };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('PgTransport', () => {
  it('passes everything on while no statement is watched', async () => {
    const { transport, received } = await connected([answer]);
    transport.write(Buffer.from('a statement'));
    await until(() => received().length >= answer.length);
    expect(received().equals(answer)).toBe(true);
    transport.destroy();
  });

  it("holds back and counts a watched answer's rows wherever the reads split it, and passes on what follows", async () => {
    const whole = Buffer.concat([answer, NOTICE_AFTER]);
    for (let split = 1; split < whole.length; split += 3) {
      const { transport, received } = await connected([whole.subarray(0, split), whole.subarray(split)]);
      const watch = transport.watch();
      transport.write(Buffer.from('a statement'));
      const expected = Buffer.concat([withoutRows, NOTICE_AFTER]);
      await until(() => received().length >= expected.length);
      expect(received().equals(expected), `split at ${split}`).toBe(true);
      expect(watch.rows).toBe(3);
      expect(watch.sentAt).toBeGreaterThan(0);
      expect(watch.readyAt).toBeGreaterThanOrEqual(watch.sentAt);
      transport.destroy();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    }
  });

  it('stops watching at an error: whatever comes after it reaches the driver whole', async () => {
    const error = message('E', 'SERROR\0C22012\0Mdivision by zero\0\0');
    const { transport, received } = await connected(
      [Buffer.concat([ROW_DESCRIPTION, ROW(1), error]), Buffer.concat([READY, ROW(2)])],
      { paced: true },
    );
    const watch = transport.watch();
    transport.write(Buffer.from('a statement'));
    await until(() => received().length === ROW_DESCRIPTION.length + error.length);
    transport.unwatch(watch); // as the timer does when the driver reports the error
    transport.write(Buffer.from('the next statement'));
    const expected = Buffer.concat([ROW_DESCRIPTION, error, READY, ROW(2)]);
    await until(() => received().length >= expected.length);
    expect(received().equals(expected)).toBe(true);
    expect(watch.rows).toBe(1);
    transport.destroy();
  });

  it('ends, and closes, when the server drops the connection, as a socket would', async () => {
    const { transport, serverSide } = await connected([answer]);
    const ended = new Promise((resolve) => transport.once('end', resolve));
    const closed = new Promise((resolve) => transport.once('close', resolve));
    transport.write(Buffer.from('a statement'));
    await settle();
    serverSide().destroy();
    await Promise.all([ended, closed]);
    expect(transport.writable).toBe(false);
  });
});
