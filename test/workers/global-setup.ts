import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { createServer } from 'node:net';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createPgDatabase } from '../../src/adapters/db/pg.js';
import { pgliteDatabase } from '../../src/adapters/db/pglite.js';
import type { Database } from '../../src/adapters/db/types.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { createV1Schema, generateV1Data } from '../../src/demo/generate.js';
import { generateToken, sha256Hex } from '../../src/http/auth.js';
import { startReceiver } from '../support/receiver.js';
import { startWsProxy } from '../support/ws-proxy.js';
import type { WorkersTestContext } from './context.js';

/**
 * Runs in Node before the Workers suite: a seeded PostgreSQL (a scratch database on
 * TEST_DATABASE_URL's server, or an in-memory PGlite served over TCP), the WebSocket proxy
 * the Neon driver reaches it through, and API tokens. Tests read them with inject('sarkWorkers').
 */

const SEED = { servers: 20, toolsPerServer: 3, shape: 'orm' } as const;

/** SARK v1 with a small dataset, then the v2 tables, as a real pre-migration database looks. */
async function seed(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await createV1Schema(tx, SEED.shape);
    await generateV1Data(tx, SEED);
  });
  await db.withAdvisoryLock((session) => applyMigrations(session));
}

interface SeededDatabase {
  url: string;
  stop(): Promise<void>;
}

/** A database of this run's own on the real server, dropped at teardown. */
async function scratchDatabaseOn(serverUrl: string): Promise<SeededDatabase> {
  const name = `sm_workers_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = createPgDatabase({ connectionString: url.toString(), max: 2 });
  try {
    await seed(db);
  } finally {
    await db.close();
  }
  return { url: url.toString(), stop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** An in-memory PGlite, seeded, then served on a free TCP port of 127.0.0.1. */
async function embeddedDatabase(): Promise<SeededDatabase> {
  const pglite = await PGlite.create();
  await seed(pgliteDatabase(pglite));
  // Each Worker request opens its own pool; earlier pools may still be closing.
  const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0, maxConnections: 50 });
  await server.start();
  const port = Number(server.getServerConn().split(':').at(-1));
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}

/** A port that was free a moment ago: bound, read back and released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_DATABASE_URL;
  const database = serverUrl ? await scratchDatabaseOn(serverUrl) : await embeddedDatabase();
  const proxy = await startWsProxy().catch(async (error: unknown) => {
    await database.stop();
    throw error;
  });

  const readToken = generateToken();
  const runToken = generateToken();
  const adminToken = generateToken();
  const apiTokens = JSON.stringify([
    { name: 'workers-read', sha256: await sha256Hex(readToken), scopes: ['read'] },
    { name: 'workers-run', sha256: await sha256Hex(runToken), scopes: ['run'] },
    { name: 'workers-admin', sha256: await sha256Hex(adminToken), scopes: ['read', 'run', 'apply'] },
  ]);

  const receiver = await startReceiver();
  const context: WorkersTestContext = {
    databaseUrl: database.url,
    wsProxy: proxy.url,
    apiTokens,
    readToken,
    runToken,
    adminToken,
    closedPort: await closedPort(),
    realPostgres: Boolean(serverUrl),
    slackSigningSecret: generateToken(),
    slackPrincipals: JSON.stringify([
      { team: 'T0WORKERS', user: 'URUN', scopes: ['read', 'run'] },
      { team: 'T0WORKERS', user: 'UAPPLY', scopes: ['read', 'apply'] },
    ]),
    receiverUrl: receiver.url(''),
    notifySecret: `whsec_${randomBytes(32).toString('base64')}`,
  };
  project.provide('sarkWorkers', context);

  return async () => {
    await receiver.close();
    await proxy.close();
    await database.stop();
  };
}
