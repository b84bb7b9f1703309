import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { changedTables, tableChecksums } from '../../../test/support/checksums.js';
import { seedV1 } from '../../../test/support/seed.js';
import { pgliteCopies } from '../../adapters/copies/pglite.js';
import { databaseExists, templateCopies } from '../../adapters/copies/template.js';
import { createPgDatabase } from '../../adapters/db/pg.js';
import { pgliteDatabase } from '../../adapters/db/pglite.js';
import type { Database } from '../../adapters/db/types.js';
import { applyServiceMigrations } from '../../db/service-migrations.js';
import { copyNameOf } from '../../operations/rehearse.js';
import type { RehearsalReport } from '../../reports/rehearsal.js';
import { dropDatabaseSql } from '../../sql/copies.js';
import { execute } from '../../sql/sql.js';

const realUrl = process.env.TEST_DATABASE_URL;
const STEPS = ['migrate', 'validate', 'benchmark', 'rollback-plan', 'rollback', 'validate-after-rollback'];
const STEP_KINDS = ['migration', 'validation', 'benchmark', 'rollback', 'rollback', 'validation'];
const cheap = { benchmark: { iterations: 2, warmup: 0 } };

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** What every passing rehearsal shows: each step's report, passed, stored under its id; v1 back exactly. */
async function expectPassed(app: TestApp, report: RehearsalReport) {
  expect(report).toMatchObject({
    kind: 'rehearsal',
    status: 'passed',
    summary: { steps: 6, passed: 6, failedStep: null },
  });
  expect(report.steps.map((s) => s.step)).toEqual(STEPS);
  expect(report.steps.map((s) => s.report?.kind)).toEqual(STEP_KINDS);
  expect(report.steps.every((s) => s.passed)).toBe(true);
  const [migrated, validated, , plan, rolledBack, after] = report.steps.map((s) => s.report as Record<string, unknown>);
  expect(migrated).toMatchObject({ status: 'succeeded', dryRun: false });
  expect(validated).toMatchObject({ status: 'passed', exitCode: 0, mode: 'full' });
  // The rollback ran on its own dry run's plan, as a real one must.
  expect(plan).toMatchObject({ dryRun: true, status: 'succeeded' });
  expect(rolledBack).toMatchObject({ dryRun: false, status: 'succeeded', planId: plan!.planId });
  expect(after).toMatchObject({ status: 'passed', exitCode: 0, mode: 'quick' });
  // The fidelity check looked at every row of the copy's v1.
  const fidelity = (validated!.checks as { name: string; details: Record<string, unknown> }[]).find(
    (c) => c.name === 'data.servers_fidelity',
  );
  expect(fidelity?.details).toMatchObject({ v1_rows: 8, matched: 8 });
  expect(report.v1Restored?.passed).toBe(true);
  expect(report.v1Restored?.before.servers).toMatch(/^8:/);
  // /preflight's estimate, taken on the copy, beside what its migration measured.
  const { estimate } = report;
  expect(estimate?.migration?.toCopy).toMatchObject({ resources: 8 });
  expect(estimate?.migration?.sample?.rolledBack).toBe(true);
  expect(estimate?.measured).toEqual({ durationMs: report.steps[0]!.durationMs, v2SizeBytes: expect.any(Number) });
  expect(estimate!.measured!.v2SizeBytes).toBeGreaterThan(0);
  expect(estimate?.differences?.durationRatio).toBeGreaterThan(0);
  expect(estimate?.differences?.sizeRatio).toBeGreaterThan(0);
  expect(typeof estimate?.differences?.withinInterval).toBe('boolean');
  for (const step of report.steps) {
    const stored = await app.call('GET', `/reports/${step.reportId}`, { as: 'reader' });
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ id: step.reportId, kind: step.report!.kind, status: step.status });
  }
}

function expectFailedAtMigrate(report: RehearsalReport) {
  expect(report).toMatchObject({ status: 'failed', summary: { failedStep: 'migrate', passed: 0 }, v1Restored: null });
  expect(report.steps).toHaveLength(1);
  expect(report.steps[0]).toMatchObject({ step: 'migrate', status: 'failed', passed: false, reportId: null });
  expect(report.steps[0]!.error?.kind).toBe('schema-conflict');
  expect(report.estimate?.measured).toBeNull();
}

async function rehearse(app: TestApp, body: object = cheap) {
  const res = await app.call('POST', '/rehearse', { as: 'applier', body });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as RehearsalReport;
}

// PGlite made and seeded per test, and a whole cutover: slow on busy shared cores.
describe('POST /rehearse [pglite clone]', { timeout: 120_000 }, () => {
  async function pgliteSource() {
    const pglite = await PGlite.create();
    const db = pgliteDatabase(pglite);
    await seedV1(db, { servers: 8, toolsPerServer: 2, withV2: false });
    await applyServiceMigrations(db);
    const app = await makeTestApp(db, { deps: { copies: pgliteCopies(pglite) } });
    return { db, app };
  }

  it('runs the cutover on a clone, each step reported and stored, and leaves the source as it was', async () => {
    const { db, app } = await pgliteSource();
    try {
      const before = await tableChecksums(db);
      const report = await rehearse(app);
      await expectPassed(app, report);
      expect(report.copy).toMatchObject({ method: 'pglite-clone', kept: false, dropped: true, reach: null });
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
      // The source has no v2 rows: it was never migrated.
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mcp_servers')).rows[0]!.n).toBe(8);
      expect((await db.query(`SELECT to_regclass('public.resources') AS t`)).rows[0]!.t).toBeNull();
    } finally {
      await db.close();
    }
  });

  it('reports the step that failed, runs no later step, and still drops the copy', async () => {
    const { db, app } = await pgliteSource();
    try {
      // A v2 table partly there: the migration on the copy refuses it (schema-conflict).
      await db.query('CREATE TABLE resources (id text PRIMARY KEY)');
      const before = await tableChecksums(db);
      const res = await app.call('POST', '/rehearse', { as: 'applier', body: cheap });
      expect(res.status).toBe(200);
      const report = (await res.json()) as RehearsalReport;
      expectFailedAtMigrate(report);
      expect(report.copy).toMatchObject({ method: 'pglite-clone', dropped: true });
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('answers 202 with respond-async, and the stored report ends passed', async () => {
    const { db, app } = await pgliteSource();
    try {
      const res = await app.call('POST', '/rehearse', {
        as: 'applier',
        body: cheap,
        headers: { Prefer: 'respond-async' },
      });
      expect(res.status).toBe(202);
      const location = res.headers.get('Location')!;
      expect(location).toMatch(/^\/reports\//);
      await app.settle();
      const stored = (await (await app.call('GET', location, { as: 'reader' })).json()) as RehearsalReport;
      await expectPassed(app, stored);
    } finally {
      await db.close();
    }
  });

  it('cancelled mid-run: the copy is dropped first, and the report says whether that worked', async () => {
    const pglite = await PGlite.create();
    const db = pgliteDatabase(pglite);
    await seedV1(db, { servers: 8, toolsPerServer: 2, withV2: false });
    await applyServiceMigrations(db);
    // A copy whose drop fails (its clone stays in memory until the process ends): the report must say so.
    const clones = pgliteCopies(pglite);
    const copies = {
      method: clones.method,
      canKeep: clones.canKeep,
      create: async (name: string) => {
        const copy = await clones.create(name);
        return {
          ...copy,
          drop: async () => {
            await copy.db.close();
            throw new Error('the drop failed (test)');
          },
        };
      },
    };
    const app = await makeTestApp(db, { deps: { copies, progressIntervalMs: 10 } });
    try {
      const started = await app.call('POST', '/rehearse', {
        as: 'applier',
        body: { benchmark: { iterations: 100, warmup: 0 } },
        headers: { Prefer: 'respond-async' },
      });
      expect(started.status).toBe(202);
      const location = started.headers.get('Location')!;
      const read = async () => (await (await app.call('GET', location, { as: 'reader' })).json()) as RehearsalReport;
      // Cancelled once the migration step is done, while later steps run.
      for (let report = await read(); (report.steps ?? []).length < 1; report = await read()) {
        expect(report.status).toBe('running');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await app.call('POST', `${location}/cancel`, { as: 'applier' })).status).toBe(202);
      await app.settle();
      const ended = await read();
      expect(ended.status).toBe('cancelled');
      expect(ended.steps.length).toBeGreaterThanOrEqual(1);
      expect(ended.steps.length).toBeLessThan(6);
      expect(ended.copy).toMatchObject({ dropped: false, dropError: 'the drop failed (test)' });
    } finally {
      await db.close();
    }
  });

  it('cannot keep an in-memory clone, and says so', async () => {
    const { db, app } = await pgliteSource();
    try {
      const report = await rehearse(app, { ...cheap, keep: true });
      expect(report.copy).toMatchObject({ kept: false, dropped: true, note: expect.stringContaining('PGlite') });
    } finally {
      await db.close();
    }
  });

  it('refuses bad input naming each field, a run token, and an apply token while a changing run holds the lease', async () => {
    const { db, app } = await pgliteSource();
    try {
      const before = await tableChecksums(db);
      const bad = await app.call('POST', '/rehearse', {
        as: 'applier',
        body: { keep: 'yes', benchmark: { iterations: 0, warmup: 1.5, patterns: [] }, dryRun: false },
      });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toBe('application/problem+json');
      const fields = (await bad.json()).errors.map((e: { field: string }) => e.field).sort();
      expect(fields).toEqual(['benchmark.iterations', 'benchmark.patterns', 'benchmark.warmup', 'dryRun', 'keep']);
      expect((await app.call('POST', '/rehearse', { as: 'runner', body: cheap })).status).toBe(403);
      // A notify URL this service cannot sign for (no NOTIFY_SECRET): 400 naming it, nothing run.
      const unsigned = await app.call('POST', '/rehearse', {
        as: 'applier',
        body: { ...cheap, notify: 'https://ci.example.com/hook' },
      });
      expect(unsigned.status).toBe(400);
      expect((await unsigned.json()).errors.map((e: { field: string }) => e.field)).toEqual(['notify']);

      await db.query(
        `UPDATE sark_migrate.lease SET holder = 'someone', kind = 'migration', expires_at = now() + interval '1 minute' WHERE id = 1`,
      );
      const held = await app.call('POST', '/rehearse', { as: 'applier', body: cheap });
      expect(held.status).toBe(409);
      expect((await held.json()).detail).toContain('held by run someone');
      await db.query(`UPDATE sark_migrate.lease SET holder = NULL, kind = NULL, expires_at = NULL WHERE id = 1`);
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
      const listed = await app.call('GET', '/reports?kind=rehearsal', { as: 'reader' });
      expect((await listed.json()).items).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!realUrl)('POST /rehearse [PostgreSQL TEMPLATE copy]', { timeout: 120_000 }, () => {
  /** A source database of its own, seeded with v1, a service on it whose copies are TEMPLATE copies. */
  async function pgSource<T>(work: (s: { db: Database; app: TestApp; url: string; server: Database }) => Promise<T>) {
    const name = `sm_rehearse_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const server = createPgDatabase({ connectionString: realUrl!, max: 1 });
    await server.query(`CREATE DATABASE ${name}`);
    const url = withDatabase(realUrl!, name);
    const db = createPgDatabase({ connectionString: url });
    try {
      await seedV1(db, { servers: 8, toolsPerServer: 2, withV2: false });
      await applyServiceMigrations(db);
      const app = await makeTestApp(db, { deps: { copies: templateCopies({ sourceUrl: url, sources: [db] }) } });
      return await work({ db, app, url, server });
    } finally {
      await db.close();
      await execute(server, dropDatabaseSql(name));
      await server.close();
    }
  }

  const copies = async (server: Database) =>
    (
      await server.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'sark_rehearsal_%'`)
    ).rows
      .map((r) => r.datname)
      .sort();

  it('runs the cutover on a TEMPLATE copy, leaves every source table as it was, and drops the copy', () =>
    pgSource(async ({ db, app, server }) => {
      const before = await tableChecksums(db);
      const report = await rehearse(app);
      await expectPassed(app, report);
      expect(report.copy).toMatchObject({ method: 'template', kept: false, dropped: true, reach: null });
      expect(report.copy.name).toBe(copyNameOf(report.id));
      expect(await databaseExists(server, report.copy.name)).toBe(false);
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
    }));

  it('reports the step that failed and drops the copy all the same', () =>
    pgSource(async ({ db, app, server }) => {
      await db.query('CREATE TABLE resources (id text PRIMARY KEY)');
      const before = await tableChecksums(db);
      const res = await app.call('POST', '/rehearse', { as: 'applier', body: cheap });
      expect(res.status).toBe(200);
      const report = (await res.json()) as RehearsalReport;
      expectFailedAtMigrate(report);
      expect(report.copy).toMatchObject({ method: 'template', dropped: true });
      expect(await databaseExists(server, report.copy.name)).toBe(false);
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
    }));

  it('keeps the copy with keep: true, rolled back, and says how to reach it without credentials', () =>
    pgSource(async ({ app, server, url }) => {
      const report = await rehearse(app, { ...cheap, keep: true });
      expect(report.status).toBe('passed');
      expect(report.copy).toMatchObject({ kept: true, dropped: false });
      expect(report.copy.reach).toContain(report.copy.name);
      expect(JSON.stringify(report)).not.toContain(new URL(url).host);
      try {
        expect(await databaseExists(server, report.copy.name)).toBe(true);
        const copy = createPgDatabase({ connectionString: withDatabase(realUrl!, report.copy.name), max: 1 });
        const { rows } = await copy.query<{ servers: number; resources: number }>(
          `SELECT (SELECT count(*)::int FROM mcp_servers) AS servers, (SELECT count(*)::int FROM resources) AS resources`,
        );
        await copy.close();
        expect(rows[0]).toEqual({ servers: 8, resources: 0 });
      } finally {
        await execute(server, dropDatabaseSql(report.copy.name));
      }
    }));

  it('answers 409 naming the other session on the source, and leaves nothing behind', () =>
    pgSource(async ({ db, app, url, server }) => {
      const before = await tableChecksums(db);
      const copiesBefore = await copies(server);
      const other = new pg.Client({ connectionString: url, application_name: 'psql-rehearse-test' });
      await other.connect();
      try {
        const res = await app.call('POST', '/rehearse', { as: 'applier', body: cheap });
        expect(res.status).toBe(409);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        const problem = await res.json();
        expect(problem.type).toContain('copy-refused');
        expect(problem.detail).toContain('1 session is connected');
        expect(problem.detail).toContain('psql-rehearse-test (1)');
        expect(problem.detail).toContain('Neon branch');
      } finally {
        await other.end();
      }
      expect(await copies(server)).toEqual(copiesBefore);
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);
      expect((await (await app.call('GET', '/reports?kind=rehearsal', { as: 'reader' })).json()).items).toEqual([]);
      // With the other session gone, the same service rehearses.
      expect((await rehearse(app)).status).toBe('passed');
    }));
});
