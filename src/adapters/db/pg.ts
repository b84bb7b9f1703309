import pg from 'pg';
import { poolDatabase } from './pool.js';
import type { Database } from './types.js';

export interface PgOptions {
  connectionString: string;
  max?: number;
  connectionTimeoutMillis?: number;
}

/** PostgreSQL over TCP with node-postgres. */
export function createPgDatabase(options: PgOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    application_name: 'sark-migrate',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return poolDatabase(pool, 'pg');
}
