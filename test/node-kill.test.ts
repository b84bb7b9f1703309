import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, sha256Hex } from '../src/http/auth.js';
import { databaseTargets, type TestDatabase } from './support/databases.js';
import { seedV1 } from './support/seed.js';

const SERVERS = 200;
const TOOLS = 3;
const LEASE_TTL_MS = 2_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The Node service as an operator runs it (`npm start`: tsx src/entry.node.ts), on a real
 * PostgreSQL, killed with SIGKILL mid-run and started again: its report ends abandoned once the
 * lease expires, and a new run takes the lease over and finishes with exact data.
 */
describe.runIf(process.env.TEST_DATABASE_URL)('the Node service killed mid-run', () => {
  let t: TestDatabase;
  let env: Record<string, string>;
  let token: string;
  let base: string;
  let service: ChildProcess | undefined;

  beforeAll(async () => {
    t = await databaseTargets()
      .find((target) => target.driver === 'pg')!
      .open();
    await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
    token = generateToken();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      ...(process.env as Record<string, string>),
      DATABASE_URL: t.url!,
      API_TOKENS: JSON.stringify([{ name: 'ops', sha256: await sha256Hex(token), scopes: ['read', 'run', 'apply'] }]),
      REPORTS_DIR: await mkdtemp(join(tmpdir(), 'sark-kill-')),
      PORT: String(port),
      LEASE_TTL_MS: String(LEASE_TTL_MS),
    };
  }, 60_000);

  afterAll(async () => {
    service?.kill('SIGKILL');
    await t?.dispose();
  });

  async function start(): Promise<void> {
    service = spawn(process.execPath, ['--import', 'tsx', 'src/entry.node.ts'], { env, stdio: 'pipe' });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the service did not start:\n${output}`)), 30_000);
      const seen = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      service!.stdout!.on('data', seen);
      service!.stderr!.on('data', seen);
      service!.once('exit', (code) => reject(new Error(`the service exited (${code}):\n${output}`)));
    });
  }

  const kill = async () => {
    const exited = new Promise((resolve) => service!.once('exit', resolve));
    service!.kill('SIGKILL');
    await exited;
    service = undefined;
  };

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  async function until(id: string, holds: (report: { status: string; progress?: { done: number } }) => boolean) {
    for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
      const report = await (await call('GET', `/reports/${id}`)).json();
      if (holds(report)) return report;
      if (Date.now() > deadline) throw new Error(`report ${id}: ${JSON.stringify(report.status)}`);
    }
  }

  const counts = async () =>
    (
      await t.admin.query<{ r: number; c: number; servers: number }>(
        'SELECT (SELECT count(*)::int FROM resources) AS r, (SELECT count(*)::int FROM capabilities) AS c, (SELECT count(*)::int FROM mcp_servers) AS servers',
      )
    ).rows[0]!;

  /** Each statement that changes `table` takes 50 ms more: a run of many small batches lasts seconds. */
  const slowDown = (table: string, event: 'INSERT' | 'DELETE') =>
    t.admin.query(
      `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
       DROP TRIGGER IF EXISTS slow_batch ON ${table};
       CREATE TRIGGER slow_batch AFTER ${event} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()`,
    );

  /** Starts a run, kills the service after a few batches, starts it again, and waits for the report to say abandoned. */
  async function killMidRun(path: string, body: unknown) {
    const accepted = await call('POST', path, body, { Prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const { id } = await accepted.json();
    await until(id, (r) => (r.progress?.done ?? 0) >= 3);
    await kill();
    const mid = await counts();
    await start();
    const abandoned = await until(id, (r) => r.status !== 'running'); // the sweep, once the lease expired
    expect(abandoned).toMatchObject({ status: 'abandoned', summary: { database: { resources: mid.r } } });
    return { id, mid, abandoned };
  }

  it('mid-migrate: the report ends abandoned, the lease is free after expiry, and a re-run ends with exact data', async () => {
    await slowDown('resources', 'INSERT');
    await start();
    const { id, mid, abandoned } = await killMidRun('/migrate', { dryRun: false, batchSize: 5, parallelism: 1 });
    // The report was checkpointed as the run went: at least the batches its progress showed.
    expect(abandoned.batches.committed).toBeGreaterThanOrEqual(3);
    expect(abandoned.batches.committed * 5).toBeLessThanOrEqual(mid.r);
    expect(mid.r).toBeGreaterThan(0);
    expect(mid.r).toBeLessThan(SERVERS);
    expect(mid.c).toBe(mid.r * TOOLS); // whole batches only

    const again = await call('POST', '/migrate', { dryRun: false });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'succeeded', takenOverFrom: id });
    expect(await counts()).toEqual({ r: SERVERS, c: SERVERS * TOOLS, servers: SERVERS });
    const check = await (await call('POST', '/validate', { mode: 'full' })).json();
    expect(check.status).toBe('passed');
  }, 120_000);

  it('mid-rollback: the report ends abandoned, and a re-run removes the rest, v1 untouched', async () => {
    await t.admin.query('DROP TRIGGER IF EXISTS slow_batch ON resources');
    await slowDown('capabilities', 'DELETE');
    const plan = async () => (await (await call('POST', '/rollback', {})).json()).planId as string;
    const { id, mid, abandoned } = await killMidRun('/rollback', {
      dryRun: false,
      planId: await plan(),
      batchSize: 5,
      parallelism: 1,
    });
    expect(mid.r).toBeGreaterThan(0);
    expect(mid.r).toBeLessThan(SERVERS);
    // Checkpointed as it went: its archive's id from before the first batch, and what committed.
    expect(abandoned.archive.rollbackId).toBe(id);
    expect(abandoned.batches.committed).toBeGreaterThanOrEqual(3);

    const again = await call('POST', '/rollback', { dryRun: false, planId: await plan() });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'succeeded', takenOverFrom: id });
    expect(await counts()).toEqual({ r: 0, c: 0, servers: SERVERS });
    const archived = await t.admin.query<{ n: number }>(
      'SELECT count(DISTINCT id)::int AS n FROM sark_migrate.archived_resources',
    );
    expect(archived.rows[0]!.n).toBe(SERVERS); // every removed row archived once, across both runs
  }, 120_000);
});
