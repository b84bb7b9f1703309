/**
 * What the Workers scripts (workers-resume, bench --runtime workers) share: a `wrangler dev` of the
 * service run as a child process group with its configuration in a temporary env file, a client
 * for its API, and scratch databases on a PostgreSQL server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import { applyMigrations } from '../src/db/migrate.js';
import { createV1Schema, generateV1Data } from '../src/demo/generate.js';
import { generateToken, sha256Hex } from '../src/http/auth.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const WRANGLER = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));
/** The Workflow's name in wrangler.toml ([[workflows]] name): what `wrangler workflows` commands take. */
export const WORKFLOW_NAME = 'sark-migrate-runs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A token with every scope, and the API_TOKENS value that admits it (only its SHA-256). */
export async function adminToken(name: string): Promise<{ token: string; apiTokens: string }> {
  const token = generateToken();
  const entry = { name, sha256: await sha256Hex(token), scopes: ['read', 'run', 'apply'] };
  return { token, apiTokens: JSON.stringify([entry]) };
}

export interface DevServer {
  url: string;
  port: number;
  /** wrangler's and workerd's output. */
  logFile: string;
  /** SIGKILL to the whole process group (wrangler and its workerd): a crash, nothing flushed. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface DevOptions {
  /** DATABASE_URL, API_TOKENS, WS_PROXY: written to an env file in `tmpDir`, never into the repository. */
  vars: Record<string, string>;
  /** Local R2 and the Workflows engine's state: the same directory again continues where the last run was killed. */
  persistTo: string;
  /** Where the env file and the log go. */
  tmpDir: string;
  /** How long to wait for the Worker to answer (default 90 s: the first start bundles the Worker). */
  readyTimeoutMs?: number;
}

/**
 * `wrangler dev` of this repository's wrangler.toml on a free port of 127.0.0.1, in a process
 * group of its own (so a kill reaches workerd too); resolves once GET /health answers.
 */
export async function startWranglerDev(options: DevOptions): Promise<DevServer> {
  const port = await freePort();
  const envFile = `${options.tmpDir}/worker.env`;
  // --env-file replaces .dev.vars (an engineer's own stays unread); single quotes keep the JSON as it is.
  writeFileSync(
    envFile,
    Object.entries(options.vars)
      .map(([key, value]) => `${key}='${value}'\n`)
      .join(''),
    { mode: 0o600 },
  );
  const logFile = `${options.tmpDir}/wrangler-${port}.log`;
  const log = openSync(logFile, 'a');
  const args = [
    ...['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort())],
    ...['--persist-to', options.persistTo, '--env-file', envFile, '--show-interactive-dev-session=false'],
  ];
  const child = spawn(process.execPath, [WRANGLER, ...args], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  closeSync(log);
  const exited = once(child, 'exit');
  let alive = true;
  void exited.then(() => (alive = false));
  const group = child.pid!;
  const gone = async () => {
    // The group is gone when no process of it is left (workerd may outlive wrangler by a moment).
    for (;;) {
      try {
        process.kill(-group, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-group, name);
    } catch {
      // already gone
    }
  };
  const server: DevServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    logFile,
    async kill() {
      signal('SIGKILL');
      await gone();
    },
    async stop() {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 10_000);
      await gone();
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (!alive) throw new Error(`wrangler dev exited before it answered:\n${tail(logFile)}`);
    try {
      await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5_000) });
      return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`wrangler dev did not answer within ${options.readyTimeoutMs ?? 90_000} ms:\n${tail(logFile)}`);
    }
    await sleep(250);
  }
}

/** The last lines of a log. */
export const tail = (file: string) => readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');

export type Json = Record<string, unknown>;

/** The service's API as a client sees it, with one bearer token. */
export function apiClient(base: string, token: string) {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
  };
  return {
    request,
    /** POST with Prefer: respond-async; the report id of the 202, or throws with the answer. */
    async start(path: string, body: unknown): Promise<string> {
      const answer = await request('POST', path, body, { Prefer: 'respond-async' });
      if (answer.status !== 202) throw new Error(`POST ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.id as string;
    },
    report: async (id: string) => (await request('GET', `/reports/${id}`)).body,
    /** Polls GET /reports/{id} every `intervalMs` until the report is no longer running. */
    async untilEnded(id: string, intervalMs = 100, timeoutMs = 3_600_000): Promise<Json> {
      for (const deadline = Date.now() + timeoutMs; ; await sleep(intervalMs)) {
        const report = (await request('GET', `/reports/${id}`)).body;
        if (report.status !== 'running') return report;
        if (Date.now() > deadline) throw new Error(`report ${id} still running after ${timeoutMs} ms`);
      }
    },
  };
}
export type ApiClient = ReturnType<typeof apiClient>;

/** `postgres://.../name` on the same server as `serverUrl`. */
export const databaseUrl = (serverUrl: string, name: string) =>
  Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();

/** One statement on the server's maintenance database (CREATE/DROP DATABASE, CHECKPOINT). */
export async function admin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  serverUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A new database with SARK v1 (`servers` × `tools`), the v2 tables and the service's schema, analysed. */
export async function createV1Database(serverUrl: string, name: string, servers: number, tools: number) {
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const db = createPgDatabase({ connectionString: databaseUrl(serverUrl, name) });
  try {
    await db.transaction(async (tx) => {
      await createV1Schema(tx, 'orm');
      await generateV1Data(tx, { servers, toolsPerServer: tools, shape: 'orm' });
    });
    await db.withAdvisoryLock((session) => applyMigrations(session));
    await db.query('VACUUM ANALYZE');
  } finally {
    await db.close();
  }
}
