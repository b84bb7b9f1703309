import { Socket } from 'node:net';
import pg from 'pg';
import { PgTransport } from './pg-transport.js';
import { CONNECTION_LIMITS, poolBounds, poolDatabase } from './pool.js';
import type { Database } from './types.js';

export interface PgOptions {
  connectionString: string;
  max?: number;
  connectionTimeoutMillis?: number;
}

/**
 * A node-postgres client whose connection runs over a PgTransport (given through pg's public
 * `stream` option), so /benchmark can time a statement without the driver decoding its rows; a
 * TLS connection keeps pg's own socket, which pg wraps in TLS itself.
 */
class TransportClient extends pg.Client {
  readonly transport: PgTransport | undefined;

  constructor(config?: pg.ClientConfig) {
    let transport: PgTransport | undefined;
    const stream = (connection: { ssl?: unknown }) => (connection.ssl ? new Socket() : (transport = new PgTransport()));
    super({ ...config, stream: stream as unknown as () => Socket });
    this.transport = transport;
  }
}

/** PostgreSQL over TCP with node-postgres. */
export function createPgDatabase(options: PgOptions): Database {
  const max = options.max ?? 10;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    application_name: 'sark-migrate',
    ...CONNECTION_LIMITS,
    Client: TransportClient,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return poolDatabase(pool, 'pg', poolBounds(max));
}
