import { describe, expect, it } from 'vitest';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import { applyServiceMigrations } from '../src/db/service-migrations.js';
import { markAbandonedRuns } from '../src/operations/abandon.js';
import { newReportId, type ReportId } from '../src/reports/ids.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { databaseTargets, describeEachDatabase, type TestDatabase } from './support/databases.js';
import { seedV1 } from './support/seed.js';

const SERVERS = 40;
const TOOLS = 2;

/** Every batch's insert into resources takes 40 ms more: a run of many batches lasts long enough to act on. */
async function slowBatches(t: TestDatabase) {
  await t.db.query(
    `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.04); RETURN NULL; END $$`,
  );
  await t.db.query('DROP TRIGGER IF EXISTS slow_batch ON resources');
  await t.db.query(
    'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
  );
}

const counts = async (t: TestDatabase) =>
  (
    await t.db.query<{ r: number; c: number }>(
      'SELECT (SELECT count(*)::int FROM resources) AS r, (SELECT count(*)::int FROM capabilities) AS c',
    )
  ).rows[0]!;

async function reportOf(app: TestApp, id: string) {
  return (await app.call('GET', `/reports/${id}`, { as: 'reader' })).json();
}

/** Polls the report until `holds`. */
async function until(app: TestApp, id: string, holds: (report: { progress?: { done: number } }) => boolean) {
  for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
    const report = await reportOf(app, id);
    if (holds(report)) return report;
    if (Date.now() > deadline) throw new Error(`report ${id} never got there: ${JSON.stringify(report.progress)}`);
  }
}

const startMigration = async (app: TestApp) => {
  const res = await app.call('POST', '/migrate', {
    body: { dryRun: false, batchSize: 1, parallelism: 1 },
    headers: { Prefer: 'respond-async' },
  });
  expect(res.status).toBe(202);
  return (await res.json()).id as string;
};

// Cancel, takeover and abandonment of runs, through the HTTP API, on each database target.
describeEachDatabase('runs: cancel, takeover, abandoned', (current) => {
  const fresh = async (deps: NonNullable<Parameters<typeof makeTestApp>[1]>['deps'] = {}) => {
    const t = current();
    await t.db.query('DROP SCHEMA IF EXISTS sark_migrate CASCADE');
    await t.db.query(
      'DROP TABLE IF EXISTS capabilities, resources, cost_tracking, federation_nodes, principal_budgets',
    );
    await t.db.query('DROP TABLE IF EXISTS mcp_tools, mcp_servers');
    await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
    await slowBatches(t);
    return { t, app: await makeTestApp(t.db, { deps }) };
  };

  it('cancels a running migration at a batch boundary: the report ends cancelled with exactly what committed, the lease is free, and a new run finishes the job', async () => {
    const { t, app } = await fresh();
    const id = await startMigration(app);
    const midway = await until(app, id, (r) => (r.progress?.done ?? 0) >= 2);
    // The running report shows its pace and how long the rest should take at it.
    expect(midway.progress).toMatchObject({ total: SERVERS, stepsPerSecond: expect.any(Number) });
    expect(midway.progress.stepsPerSecond).toBeGreaterThan(0);
    expect(midway.progress.etaSeconds).toBeGreaterThan(0);
    const cancelled = await app.call('POST', `/reports/${id}/cancel`, { as: 'applier' });
    expect(cancelled.status).toBe(202);
    expect(cancelled.headers.get('location')).toBe(`/reports/${id}`);
    await app.settle();
    const report = await reportOf(app, id);
    expect(report).toMatchObject({ status: 'cancelled', error: { status: 499 } });
    expect(report.summary.message).toMatch(/^Cancelled: /);
    const copied = report.batches.committed;
    expect(copied).toBeGreaterThanOrEqual(2);
    expect(copied).toBeLessThan(SERVERS);
    expect(await counts(t)).toEqual({ r: copied, c: copied * TOOLS }); // whole batches, as the report says

    const again = await app.call('POST', '/migrate', { body: { dryRun: false } });
    expect(again.status).toBe(200); // the lease was released
    expect((await again.json()).tables.resources.copied).toBe(SERVERS - copied);
    expect(await counts(t)).toEqual({ r: SERVERS, c: SERVERS * TOOLS });
  });

  it('cancels a run from another process: the flag in sark_migrate.runs reaches it at its next heartbeat', async () => {
    const { t, app } = await fresh({ heartbeatMs: 30 });
    const id = await startMigration(app);
    await until(app, id, (r) => (r.progress?.done ?? 0) >= 1);
    // As another process's cancel does: only the row, no in-process switch.
    await t.admin.query('UPDATE sark_migrate.runs SET cancel_requested_at = now() WHERE id = $1', [id]);
    await app.settle();
    const report = await reportOf(app, id);
    expect(report.status).toBe('cancelled');
    expect(await counts(t)).toMatchObject({ r: report.batches.committed });
    const { rows } = await t.admin.query<{ status: string }>('SELECT status FROM sark_migrate.runs WHERE id = $1', [
      id,
    ]);
    expect(rows[0]!.status).toBe('cancelled');
  });

  it('answers cancel with 400 for a malformed id, 404 for an unknown one, 409 for an ended run, and 403 without apply for a changing run', async () => {
    const { app } = await fresh();
    const malformed = await app.call('POST', '/reports/not-a-report-id/cancel');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ errors: [{ field: 'id', in: 'path' }] });
    const unknown = await app.call('POST', `/reports/${newReportId(Date.now())}/cancel`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    const plan = await (await app.call('POST', '/migrate', { as: 'runner' })).json();
    const ended = await app.call('POST', `/reports/${plan.id}/cancel`, { as: 'runner' });
    expect(ended.status).toBe(409);
    expect(await ended.json()).toMatchObject({ type: 'urn:sark-migrate:problem:run-ended', status: 409 });

    const id = await startMigration(app);
    const forbidden = await app.call('POST', `/reports/${id}/cancel`, { as: 'runner' });
    expect(forbidden.status).toBe(403);
    expect((await app.call('POST', `/reports/${id}/cancel`, { as: 'reader' })).status).toBe(403);
    await app.settle();
    expect((await reportOf(app, id)).status).toBe('succeeded'); // refused cancels changed nothing
  });

  it('runs one read per token at a time, wherever the other runs: 429 with Retry-After naming it', async () => {
    const { t, app } = await fresh();
    await applyServiceMigrations(t.db);
    const elsewhere = newReportId(Date.now());
    // A validation of the runner token's, running in another process or isolate.
    await t.admin.query(
      `INSERT INTO sark_migrate.runs (id, kind, status, changing, actor) VALUES ($1, 'validation', 'running', false, 'runner')`,
      [elsewhere],
    );
    const refused = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(await refused.json()).toMatchObject({
      type: 'urn:sark-migrate:problem:too-many-runs',
      runningReportId: elsewhere,
    });
    // Another token reads meanwhile; a changing run is not a read (the lease orders those).
    expect((await app.call('POST', '/validate', { as: 'admin', body: { mode: 'schema' } })).status).toBe(200);
    await t.admin.query(`UPDATE sark_migrate.runs SET status = 'passed' WHERE id = $1`, [elsewhere]);
    expect((await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } })).status).toBe(200);
  });

  it("frees a token's read slot whose run ended but whose ledger row says running (its end was not written)", async () => {
    const { t, app } = await fresh();
    const first = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
    expect(first.status).toBe(200);
    const { id } = await first.json();
    // As if the process could not write the run's end: the row still running, the report ended.
    await t.admin.query(`UPDATE sark_migrate.runs SET status = 'running' WHERE id = $1`, [id]);
    const second = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
    expect(second.status).toBe(200);
    const rows = await t.admin.query<{ id: string; status: string }>(
      'SELECT id, status FROM sark_migrate.runs ORDER BY id',
    );
    expect(rows.rows).toEqual([
      { id, status: 'passed' },
      { id: (await second.json()).id, status: 'passed' },
    ]);
  });

  it('refuses a read whose run the ledger could not record for a reason other than a read-only role', async () => {
    const { t, app } = await fresh();
    await applyServiceMigrations(t.db);
    // The ledger refuses this token's rows: the read must not go on unrecorded, past the per-token rule.
    await t.admin.query(`ALTER TABLE sark_migrate.runs ADD CONSTRAINT no_runner CHECK (actor <> 'runner')`);
    const refused = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ type: 'urn:sark-migrate:problem:constraint-violation' });
    expect((await app.store.list({ limit: 10 })).items).toEqual([]);
    expect((await app.call('POST', '/validate', { as: 'admin', body: { mode: 'schema' } })).status).toBe(200);
  });

  it('lets a read run unrecorded where the ledger cannot be written: never created, or a read-only server', async (ctx) => {
    const { t } = await fresh();
    if (!t.url) return ctx.skip(); // needs a connection of its own that may only read (real PostgreSQL)
    const url = new URL(t.url);
    url.searchParams.set('options', '-c default_transaction_read_only=on');
    const readOnly = createPgDatabase({ connectionString: url.toString(), max: 2 });
    try {
      const app = await makeTestApp(readOnly);
      // No sark_migrate schema (fresh dropped it) and no way to create it: the read goes on.
      const unledgered = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
      expect(unledgered.status).toBe(200);
      // The ledger exists, but the server refuses the row (SQLSTATE 25006): the read goes on too.
      await applyServiceMigrations(t.db);
      const refusedRow = await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } });
      expect(refusedRow.status).toBe(200);
      expect((await t.admin.query('SELECT id FROM sark_migrate.runs')).rows).toEqual([]);
      // A changing run never goes on without its row.
      const migrate = await app.call('POST', '/migrate', { body: { dryRun: false } });
      expect(migrate.status).toBe(503);
      expect(await migrate.json()).toMatchObject({ type: 'urn:sark-migrate:problem:read-only' });
    } finally {
      await readOnly.close();
    }
  });

  it('takes over the lease of a run whose process stopped renewing it, and the new report says so', async () => {
    const { t, app } = await fresh();
    await applyServiceMigrations(t.db);
    const dead = newReportId(Date.now());
    await t.admin.query(
      `INSERT INTO sark_migrate.runs (id, kind, status, changing) VALUES ($1, 'rollback', 'running', true)`,
      [dead],
    );
    await t.admin.query(
      `UPDATE sark_migrate.lease SET holder = $1, kind = 'rollback', expires_at = now() + interval '1 hour' WHERE id = 1`,
      [dead],
    );
    const busy = await app.call('POST', '/migrate', { body: { dryRun: false } });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ holder: dead, holderKind: 'rollback' });
    // The refused run left nothing behind: no report, and no row in the ledger.
    const ledger = await t.admin.query<{ id: string }>('SELECT id FROM sark_migrate.runs');
    expect(ledger.rows).toEqual([{ id: dead }]);

    await t.admin.query(`UPDATE sark_migrate.lease SET expires_at = now() - interval '1 second' WHERE id = 1`);
    const res = await app.call('POST', '/migrate', { body: { dryRun: false } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'succeeded', takenOverFrom: dead });
    expect(await counts(t)).toEqual({ r: SERVERS, c: SERVERS * TOOLS });
  });

  it('marks a run whose process stopped as abandoned, with what the database shows, once its lease expired', async () => {
    const { t, app } = await fresh({ leaseTtlMs: 200, heartbeatMs: 50 });
    const id = await startMigration(app);
    await until(app, id, (r) => (r.progress?.done ?? 0) >= 2);
    // The process dies: no heartbeat, no renewal, no release. Here, its rows say so.
    await app.call('POST', `/reports/${id}/cancel`, { as: 'applier' }); // stop the work in this process...
    await app.settle();
    const left = await counts(t);
    await app.store.put({ ...(await reportOf(app, id)), status: 'running', finishedAt: null }); // ...as if never ended
    await t.admin.query(`UPDATE sark_migrate.runs SET status = 'running', heartbeat_at = now() - interval '1 hour'`);
    await t.admin.query(`UPDATE sark_migrate.lease SET holder = $1, expires_at = now() + interval '1 hour'`, [id]);

    expect(await markAbandonedRuns(app.deps, 1000)).toEqual([]); // its lease has not expired yet
    await t.admin.query(`UPDATE sark_migrate.lease SET expires_at = now() - interval '1 second'`);
    const [abandoned] = await markAbandonedRuns(app.deps, 1000);
    expect(abandoned).toMatchObject({ id, status: 'abandoned', summary: { database: { resources: left.r } } });
    expect(await app.store.get(id as ReportId)).toMatchObject({ status: 'abandoned' });

    const again = await app.call('POST', '/migrate', { body: { dryRun: false } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ takenOverFrom: id });
    expect(await counts(t)).toEqual({ r: SERVERS, c: SERVERS * TOOLS });
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('changing runs on connections of their own', () => {
  it('finish a migration while every read connection is taken', async () => {
    const t = await databaseTargets()
      .find((target) => target.driver === 'pg')!
      .open();
    const reads = createPgDatabase({ connectionString: t.url!, max: 1, connectionTimeoutMillis: 2_000 });
    const changes = createPgDatabase({ connectionString: t.url!, max: 3 });
    try {
      await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
      await applyServiceMigrations(t.db);
      const app = await makeTestApp(reads, { deps: { changes } });
      let release!: () => void;
      const holding = reads.transaction(() => new Promise<void>((resolve) => (release = resolve)));
      try {
        // The only read connection is taken: a read waits for it, and gives up.
        expect((await app.call('GET', '/health', { as: 'reader' })).status).toBe(503);
        const res = await app.call('POST', '/migrate', { body: { dryRun: false, batchSize: 5 } });
        expect(res.status, await res.clone().text()).toBe(200);
        expect(await res.json()).toMatchObject({ status: 'succeeded' });
      } finally {
        release();
        await holding;
      }
      expect(await counts(t)).toEqual({ r: SERVERS, c: SERVERS * TOOLS });
    } finally {
      await reads.close();
      await changes.close();
      await t.dispose();
    }
  }, 60_000);
});
