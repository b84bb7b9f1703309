import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, startCutProxy } from './support/tcp-cut-proxy.js';

/** The fault trials' proxy (test/faults.test.ts) itself, in front of an echo server. */
describe('the cutting TCP proxy', () => {
  let echo: Server;
  let port: number;

  beforeAll(async () => {
    echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    port = (echo.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  /** Sends bytes through a connection and collects what comes back until it closes or `expected` bytes came. */
  async function exchange(socket: Socket, bytes: number, expected: number) {
    const received: Buffer[] = [];
    let length = 0;
    const closed = await new Promise<boolean>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        length += chunk.length;
        if (length >= expected) resolve(false);
      });
      socket.on('close', () => resolve(true));
      socket.write(Buffer.alloc(bytes, 7));
    });
    return { closed, length };
  }

  const open = (proxyPort: number) =>
    new Promise<Socket>((resolve) => {
      const socket = connect({ port: proxyPort, host: '127.0.0.1' }, () => resolve(socket));
      socket.on('error', () => undefined);
    });

  it('forwards both ways while disarmed, and cuts after the budget once armed', async () => {
    const proxy = await startCutProxy({ target: { host: '127.0.0.1', port }, minBytes: 100, maxBytes: 100 });
    try {
      const socket = await open(proxy.port);
      expect(await exchange(socket, 1_000, 1_000)).toEqual({ closed: false, length: 1_000 });
      proxy.arm(1);
      // 80 bytes out, then 20 of their echo back: 100 bytes through the proxy, and the connection ends.
      expect(await exchange(socket, 80, 80)).toEqual({ closed: true, length: 20 });
      expect(proxy.stats).toMatchObject({ connections: 1, cuts: 1, refused: 0, bytes: 2_100 });

      proxy.disarm();
      const next = await open(proxy.port);
      expect(await exchange(next, 500, 500)).toEqual({ closed: false, length: 500 });
      next.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('armed as an outage, takes every connection down at the first cut and refuses new ones until disarmed', async () => {
    const proxy = await startCutProxy({ target: { host: '127.0.0.1', port }, minBytes: 100, maxBytes: 100 });
    try {
      const [first, second] = [await open(proxy.port), await open(proxy.port)];
      proxy.arm(1, { outage: true });
      const secondClosed = new Promise((resolve) => second.on('close', resolve));
      expect(await exchange(first, 80, 80)).toEqual({ closed: true, length: 20 });
      await secondClosed; // cut with the first, though it sent nothing
      const refused = await open(proxy.port);
      expect(await exchange(refused, 10, 10)).toEqual({ closed: true, length: 0 });
      expect(proxy.stats).toMatchObject({ connections: 2, cuts: 2, refused: 1 });

      proxy.disarm();
      const after = await open(proxy.port);
      expect(await exchange(after, 10, 10)).toEqual({ closed: false, length: 10 });
      after.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('draws the same budgets from the same seed', () => {
    const draws = (seed: number) => Array.from({ length: 5 }, prng(seed));
    expect(draws(42)).toEqual(draws(42));
    expect(draws(42)).not.toEqual(draws(43));
    expect(draws(42).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
