import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that cuts connections as a flaky network does. Disarmed,
 * it forwards every byte both ways. Armed, each connection draws a budget of bytes (both
 * directions together, counted from the moment it was armed) from a seeded PRNG, between
 * `minBytes` and `maxBytes`; the chunk that crosses it is forwarded only up to the budget, and
 * then both sockets are destroyed, mid-message as likely as not. The same seed gives the same
 * budgets to the connections in the order they meet them. Armed as an outage, the first cut
 * takes the network down: every connection is cut, and new ones are refused until disarm().
 */
export interface CutProxy {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/database, through the proxy. */
  url(database: string): string;
  /** From now on, connections are cut after their budget; `seed` restarts the PRNG. */
  arm(seed?: number, options?: { outage?: boolean }): void;
  /** Stops cutting (and ends an outage); connections alive now are left alone. */
  disarm(): void;
  readonly armed: boolean;
  /** Since the proxy started: connections accepted, cut, refused during an outage; bytes forwarded both ways. */
  readonly stats: { connections: number; cuts: number; refused: number; bytes: number };
  close(): Promise<void>;
}

export interface CutProxyOptions {
  target: { host: string; port: number };
  /** The PRNG's seed until arm() is given one. */
  seed?: number;
  minBytes: number;
  maxBytes: number;
}

/** mulberry32: a small, fast PRNG whose whole state is one 32-bit number. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pair {
  client: Socket;
  server: Socket;
  /** Bytes left before the cut; null while disarmed. */
  budget: number | null;
}

export async function startCutProxy(options: CutProxyOptions): Promise<CutProxy> {
  const { minBytes, maxBytes } = options;
  let random = prng(options.seed ?? 1);
  let armed = false;
  let outage = false;
  let down = false;
  const pairs = new Set<Pair>();
  const stats = { connections: 0, cuts: 0, refused: 0, bytes: 0 };
  const draw = () => minBytes + Math.floor(random() * (maxBytes - minBytes + 1));

  const cut = (pair: Pair) => {
    if (!pairs.delete(pair)) return;
    stats.cuts++;
    pair.client.destroy();
    pair.server.destroy();
    if (armed && outage && !down) {
      down = true;
      for (const other of [...pairs]) cut(other);
    }
  };

  /** Forwards chunk from one side to the other, cutting the pair where its budget runs out. */
  const forward = (pair: Pair, to: Socket, chunk: Buffer) => {
    if (pair.budget !== null && chunk.length >= pair.budget) {
      const part = chunk.subarray(0, pair.budget);
      stats.bytes += part.length;
      // The part before the cut still goes out, then both sides see their connection end.
      if (part.length > 0) to.write(part, () => cut(pair));
      setImmediate(() => cut(pair));
      pair.budget = 0;
      return;
    }
    if (pair.budget !== null) pair.budget -= chunk.length;
    stats.bytes += chunk.length;
    to.write(chunk);
  };

  const proxy = createServer({ noDelay: true }, (client) => {
    if (down) {
      stats.refused++;
      client.destroy();
      return;
    }
    const server = connect({ ...options.target, noDelay: true });
    const pair: Pair = { client, server, budget: armed ? draw() : null };
    pairs.add(pair);
    stats.connections++;
    client.on('data', (chunk: Buffer) => forward(pair, server, chunk));
    server.on('data', (chunk: Buffer) => forward(pair, client, chunk));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) socket.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => proxy.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };

  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    arm(seed, { outage: asOutage = false } = {}) {
      if (seed !== undefined) random = prng(seed);
      armed = true;
      outage = asOutage;
      down = false;
      for (const pair of pairs) pair.budget = draw();
    },
    disarm() {
      armed = false;
      down = false;
      for (const pair of pairs) pair.budget = null;
    },
    get armed() {
      return armed;
    },
    get stats() {
      return { ...stats };
    },
    close() {
      for (const { client, server } of pairs) {
        client.destroy();
        server.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => proxy.close(() => resolve()));
    },
  };
}
