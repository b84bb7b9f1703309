import { lookup } from 'node:dns/promises';
import { PGlite } from '@electric-sql/pglite';
import { serve } from '@hono/node-server';
import { mkdirSync } from 'node:fs';
import WebSocket from 'ws';
import { createNeonDatabase } from './adapters/db/neon.js';
import { createPgDatabase } from './adapters/db/pg.js';
import { pgliteDatabase } from './adapters/db/pglite.js';
import type { Database } from './adapters/db/types.js';
import { neonCopies } from './adapters/copies/neon.js';
import { pgliteCopies } from './adapters/copies/pglite.js';
import { templateCopies } from './adapters/copies/template.js';
import type { CopyProvider } from './adapters/copies/types.js';
import { readApiReferenceScript } from './adapters/assets/api-reference.node.js';
import { fsObjectStore } from './adapters/storage/fs.js';
import { createApp } from './app.js';
import { applyServiceMigrations, ServiceSchemaGate, withServiceSchema } from './db/service-migrations.js';
import { DEMO_SIZE, ensureDemoDatabase } from './demo/bootstrap.js';
import { databaseTargetOf, isNeonUrl, readNodeConfig, type NodeConfig } from './env.js';
import { generateToken, sha256Hex } from './http/auth.js';
import { ConfigError } from './errors.js';
import { markAbandonedRuns } from './operations/abandon.js';
import { HEALTH_PROBE_TTL_MS, ProbeCache } from './operations/probe.js';
import type { AppDeps } from './operations/deps.js';
import { SCOPES, type TokenEntry } from './http/scopes.js';
import { createReportStore } from './reports/store.js';

function openDatabase(config: NodeConfig & { databaseUrl: string }): Database {
  if (isNeonUrl(config.databaseUrl) || config.wsProxy) {
    return createNeonDatabase({
      connectionString: config.databaseUrl,
      webSocketConstructor: WebSocket,
      wsProxy: config.wsProxy,
    });
  }
  return createPgDatabase({ connectionString: config.databaseUrl });
}

/**
 * How a rehearsal copies the database: a Neon branch where NEON_API_KEY and NEON_PROJECT_ID are
 * set, else CREATE DATABASE ... TEMPLATE on the server (the service's pools quiesced meanwhile).
 */
function copiesOf(config: NodeConfig & { databaseUrl: string }, sources: Database[]): CopyProvider {
  if (config.neonApi)
    return neonCopies({
      ...config.neonApi,
      sourceUrl: config.databaseUrl,
      open: (url) => openDatabase({ ...config, databaseUrl: url }),
    });
  return templateCopies({
    sourceUrl: config.databaseUrl,
    sources,
    open: (url) => openDatabase({ ...config, databaseUrl: url }),
  });
}

async function openEmbeddedDatabase(folder: string): Promise<{ db: Database; pglite: PGlite }> {
  mkdirSync(folder, { recursive: true });
  const pglite = await PGlite.create(folder);
  const db = pgliteDatabase(pglite);
  const { created } = await ensureDemoDatabase(db);
  if (created)
    console.log(
      `Created the embedded demo database in ${folder}: SARK v1 with ${DEMO_SIZE.servers} servers × ${DEMO_SIZE.toolsPerServer} tools, empty v2 tables.`,
    );
  return { db, pglite };
}

/** Without configured tokens, the embedded demo makes one for this run: never open access. */
async function demoTokens(): Promise<{ tokens: TokenEntry[]; token: string }> {
  const token = generateToken();
  return { token, tokens: [{ name: 'local-demo', sha256: await sha256Hex(token), scopes: [...SCOPES] }] };
}

/** How long a stopping process waits for respond-async operations still running. */
const SHUTDOWN_GRACE_MS = 60_000;

async function main(): Promise<void> {
  const config = readNodeConfig(process.env);
  let db: Database;
  let changes: Database | undefined;
  let copies: CopyProvider;
  let tokens = config.apiTokens;
  let printedToken: string | undefined;
  if (config.databaseUrl) {
    if (!tokens) {
      throw new ConfigError(
        'DATABASE_URL is set but API_TOKENS is not: refusing to serve a real database without authentication.\n' +
          '  Make a token with `npm run token -- --name ops --scopes read,run,apply` and set API_TOKENS to the entry it prints.',
      );
    }
    db = openDatabase({ ...config, databaseUrl: config.databaseUrl });
    // Changing runs borrow from a pool of their own: reads, however many, cannot take the
    // connection a migrate or rollback batch needs and fail it half-way.
    changes = openDatabase({ ...config, databaseUrl: config.databaseUrl });
    copies = copiesOf({ ...config, databaseUrl: config.databaseUrl }, [db, changes]);
  } else {
    const embedded = await openEmbeddedDatabase(config.pgliteDir);
    db = embedded.db;
    copies = pgliteCopies(embedded.pglite);
    if (!tokens) ({ tokens, token: printedToken } = await demoTokens());
  }

  // The service's own schema, brought up to date before the first request; a database that
  // cannot be reached now is tried again at its first use.
  const serviceSchema = new ServiceSchemaGate();
  await applyServiceMigrations(db).then(
    (applied) => {
      serviceSchema.markCurrent('database');
      if (applied.length > 0)
        console.log(`Brought the service's schema (sark_migrate) up to date: ${applied.join(', ')}.`);
    },
    (error: unknown) =>
      console.warn(`The service's schema (sark_migrate) is not up to date yet; retried at first use: ${String(error)}`),
  );

  const background = new Set<Promise<unknown>>();
  const deps: AppDeps = {
    db: withServiceSchema(db, serviceSchema, 'database'),
    ...(changes ? { changes: withServiceSchema(changes, serviceSchema, 'database') } : {}),
    store: createReportStore(fsObjectStore(config.reportsDir)),
    copies,
    leaseTtlMs: config.leaseTtlMs,
    target: databaseTargetOf(config),
    healthProbe: new ProbeCache(HEALTH_PROBE_TTL_MS),
    notify: {
      allowPrivate: config.notifyAllowPrivate,
      // A host name is judged by the addresses it resolves to, not by its spelling.
      resolve: async (hostname) => (await lookup(hostname, { all: true })).map((a) => a.address),
      ...(config.notifySecret ? { secret: config.notifySecret } : {}),
      ...(config.notifyUrl ? { defaultUrl: config.notifyUrl } : {}),
    },
    // The process outlives the response: background work runs on, and shutdown waits for it.
    defer: (task) => {
      background.add(task);
      void task
        .catch((error: unknown) => console.error('background operation failed:', error))
        .finally(() => background.delete(task));
    },
  };
  // Runs a stopped process left `running` (a SIGKILL mid-migration) end `abandoned` once their
  // lease expires: looked for at start and then every half lease, by every process on the database.
  const sweep = () =>
    markAbandonedRuns(deps, config.leaseTtlMs).then(
      (ended) => ended.forEach((r) => console.log(`report ${r.id}: ${r.kind} abandoned by a process that stopped`)),
      (error: unknown) => console.warn(`Could not look for abandoned runs: ${String(error)}`),
    );
  await sweep();
  setInterval(() => void sweep(), config.leaseTtlMs / 2).unref();

  // Without DASHBOARD_SECRET, a key of this process's own: its dashboard sessions end when it stops.
  const dashboardSecret = config.dashboardSecret ?? generateToken();
  const app = createApp(
    { acquire: () => ({ deps, tokens, runtime: 'node', slack: config.slack, dashboardSecret }) },
    { apiReferenceScript: readApiReferenceScript },
  );
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    const url = `http://${config.host}:${info.port}`;
    console.log(
      `sark-migrate listening on ${url} (database: ${db.driver}${config.databaseUrl ? '' : `, embedded in ${config.pgliteDir}`}; reports in ${config.reportsDir})`,
    );
    if (printedToken) {
      console.log(
        `\nAPI token for this run (all scopes): ${printedToken}\n  curl -H "Authorization: Bearer ${printedToken}" ${url}/reports\n`,
      );
    }
  });

  const shutdown = async () => {
    server.close();
    if (background.size > 0) {
      console.log(
        `waiting up to ${SHUTDOWN_GRACE_MS / 1000} s for ${background.size} running operation(s) to finish ...`,
      );
      await Promise.race([
        Promise.allSettled(background),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS)),
      ]);
    }
    await db.close().catch(() => undefined);
    await changes?.close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
