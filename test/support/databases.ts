import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import WebSocket from 'ws';
import { createNeonDatabase } from '../../src/adapters/db/neon.js';
import { createPgDatabase } from '../../src/adapters/db/pg.js';
import { pgliteDatabase } from '../../src/adapters/db/pglite.js';
import type { Database, DriverName } from '../../src/adapters/db/types.js';

/** A database of its own for one suite, with the way to throw it away. */
export interface TestDatabase {
  db: Database;
  driver: DriverName;
  /** Its connection string (real PostgreSQL only). */
  url?: string;
  /** Runs SQL through a plain pg connection (real PostgreSQL) or the same PGlite. */
  admin: Pick<Database, 'query'>;
  /** A connection of its own (real PostgreSQL only): a second session, for tests of what runs meanwhile. */
  connect?(): Promise<Pick<Database, 'query' | 'close'>>;
  /** Another Database of the same driver on it, with at most `max` connections (real PostgreSQL only; close it). */
  reopen?(max: number): Database;
  dispose(): Promise<void>;
}

export interface DatabaseTarget {
  driver: DriverName;
  open(): Promise<TestDatabase>;
}

const realUrl = process.env.TEST_DATABASE_URL;

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** CREATE DATABASE per suite on the real server, so suites never see each other's rows. */
async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sm_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: realUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabaseName(realUrl!, name),
    async drop() {
      const c = new pg.Client({ connectionString: realUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

function realTarget(driver: 'pg' | 'neon'): DatabaseTarget {
  return {
    driver,
    async open() {
      const scratch = await createScratchDatabase();
      const wsProxy = inject('wsProxyUrl');
      const open = (max?: number) =>
        driver === 'pg'
          ? createPgDatabase({ connectionString: scratch.url, ...(max ? { max } : {}) })
          : createNeonDatabase({
              connectionString: scratch.url,
              webSocketConstructor: WebSocket,
              wsProxy,
              ...(max ? { max } : {}),
            });
      const db = open();
      const admin = createPgDatabase({ connectionString: scratch.url, max: 2 });
      return {
        db,
        driver,
        url: scratch.url,
        admin,
        reopen: (max) => open(max),
        async connect() {
          const client = new pg.Client({ connectionString: scratch.url });
          await client.connect();
          return {
            query: async (text, params) => {
              const result = await client.query(text, params as unknown[]);
              return { rows: result.rows, rowCount: result.rowCount ?? 0 };
            },
            close: () => client.end(),
          };
        },
        async dispose() {
          await db.close();
          await admin.close();
          await scratch.drop();
        },
      };
    },
  };
}

/** PGlite, with the extensions a suite needs loaded (contrib ones, such as pg_stat_statements). */
const pgliteTarget = (extensions?: PGliteOptions['extensions']): DatabaseTarget => ({
  driver: 'pglite',
  async open() {
    const db = pgliteDatabase(await PGlite.create(extensions ? { extensions } : {}));
    return { db, driver: 'pglite', admin: db, dispose: () => db.close() };
  },
});

/** PGlite always; real PostgreSQL through pg and through the Neon driver when TEST_DATABASE_URL is set. */
export function databaseTargets(options: { pgliteExtensions?: PGliteOptions['extensions'] } = {}): DatabaseTarget[] {
  const pglite = pgliteTarget(options.pgliteExtensions);
  return realUrl ? [pglite, realTarget('pg'), realTarget('neon')] : [pglite];
}

/** Declares the suite once per database target; `current()` is the suite's own database. */
export function describeEachDatabase(
  title: string,
  body: (current: () => TestDatabase, target: DatabaseTarget) => void,
): void {
  for (const target of databaseTargets()) {
    describe(`${title} [${target.driver}]`, () => {
      let database: TestDatabase | undefined;
      beforeAll(async () => {
        database = await target.open();
      }, 60_000);
      afterAll(async () => {
        await database?.dispose();
      });
      body(() => database!, target);
    });
  }
}
