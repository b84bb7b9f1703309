import { describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { changedTables, tableChecksums } from '../../../test/support/checksums.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from '../../../test/support/databases.js';
import { runSarkDdl } from '../../../test/support/sark-fixtures.js';
import { seedV1 } from '../../../test/support/seed.js';
import { applyServiceMigrations } from '../../db/service-migrations.js';
import type { PreflightReport } from '../../reports/preflight.js';

type Report = PreflightReport & { id: string };

const check = (report: Report, name: string) => {
  const found = report.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
};
const failed = (report: Report) => report.checks.filter((c) => !c.passed && !c.skipped).map((c) => c.name);
const table = (report: Report, name: string) => report.tables.find((t) => t.table === name)!;

/** A database of its own for one test, with the service in front of it. */
async function withDatabase<T>(
  target: DatabaseTarget,
  work: (t: TestDatabase, app: TestApp) => Promise<T>,
  deps: NonNullable<Parameters<typeof makeTestApp>[1]>['deps'] = {},
): Promise<T> {
  const t = await target.open();
  try {
    await applyServiceMigrations(t.db); // as the service does at startup: the checksums read its tables too
    return await work(t, await makeTestApp(t.db, { deps }));
  } finally {
    await t.dispose();
  }
}

async function preflight(app: TestApp, body: object = {}): Promise<Report> {
  const res = await app.call('POST', '/preflight', { as: 'runner', body });
  expect(res.status).toBe(200);
  return (await res.json()) as Report;
}

const countOf = async (t: TestDatabase, sql: string) => Number((await t.admin.query<{ n: number }>(sql)).rows[0]!.n);

// Migrate copies 20,000+ rows: the comparison needs enough work that a run's fixed costs do not dominate.
const SERVERS = 2_000;
const TOOLS_PER_SERVER = 10;
/** How far the estimate may be from the real migration of the same data, given the noise of shared cores. */
const ESTIMATE_FACTOR = { low: 0.2, high: 5 };

for (const target of databaseTargets()) {
  // Each test seeds a database of its own and some migrate it: minutes on shared cores under load.
  describe(`POST /preflight [${target.driver}]`, { timeout: 180_000 }, () => {
    it('on an empty database: no v1 is a critical finding, v2 is absent, no estimate', () =>
      withDatabase(target, async (_t, app) => {
        const report = await preflight(app);
        expect(report).toMatchObject({
          kind: 'preflight',
          status: 'critical',
          exitCode: 2,
          v1Shape: null,
          v2: 'absent',
        });
        expect(check(report, 'v1.shape_recognized')).toMatchObject({ passed: false, severity: 'critical' });
        expect(check(report, 'v2.state')).toMatchObject({ passed: true, details: { state: 'absent', rows: 0 } });
        expect(report.tables.every((t) => !t.exists && t.rows === null && t.counted === 'none')).toBe(true);
        expect(report.estimate).toMatchObject({ sample: null, durationMs: null });
        expect(report.estimate.skipped).toMatch(/no v1/i);
      }));

    it('on v1 with data: counts, sizes and an estimate within the stated factor of the real migration; changes nothing', () =>
      withDatabase(target, async (t, app) => {
        await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS_PER_SERVER, withV2: false });
        const before = await tableChecksums(t.admin);
        const report = await preflight(app, { sampleServers: 400 });
        expect(changedTables(before, await tableChecksums(t.admin))).toEqual([]);
        // v2 was created inside the rolled-back sample only
        expect((await t.admin.query(`SELECT to_regclass('resources') AS r`)).rows[0]).toEqual({ r: null });

        expect(report).toMatchObject({ v1Shape: 'orm', v2: 'absent' });
        expect(failed(report)).not.toContain('v1.shape_recognized');
        expect(check(report, 'v1.shape_recognized').passed).toBe(true);
        expect(check(report, 'server.version')).toMatchObject({ passed: true });
        // Told no host (no configuration in a test), the pooler check cannot look: skipped, info, never a failure.
        expect(check(report, 'connection.direct')).toMatchObject(
          target.driver === 'pglite'
            ? { passed: true, severity: 'critical' }
            : { passed: false, skipped: true, severity: 'info' },
        );
        expect(report.status).toBe('passed');
        const servers = await countOf(t, 'SELECT count(*)::int AS n FROM mcp_servers');
        const tools = await countOf(t, 'SELECT count(*)::int AS n FROM mcp_tools');
        expect(table(report, 'mcp_servers')).toMatchObject({ exists: true, rows: servers, counted: 'exact' });
        expect(table(report, 'mcp_tools')).toMatchObject({ exists: true, rows: tools, counted: 'exact' });
        const bytes = await countOf(t, `SELECT pg_total_relation_size('mcp_tools')::float8 AS n`);
        expect(table(report, 'mcp_tools').bytes).toBe(bytes);
        expect(table(report, 'resources')).toMatchObject({ exists: false, rows: null });

        const { estimate } = report;
        expect(estimate.toCopy).toEqual({ resources: servers, capabilities: tools, counted: 'exact' });
        expect(estimate.sample!.rolledBack).toBe(true);
        expect(estimate.sample!.subSamples).toHaveLength(4);
        expect(estimate.sample!.servers).toBe(400);
        expect(estimate.sample!.rowsCopied).toBe(400 + 400 * TOOLS_PER_SERVER);
        const d = estimate.durationMs!;
        expect(d.low).toBeLessThanOrEqual(d.expected);
        expect(d.expected).toBeLessThanOrEqual(d.high);
        expect(estimate.cost === null).toBe(target.driver !== 'neon');

        // The real migration of the same data.
        const res = await app.call('POST', '/migrate', { body: { dryRun: false } });
        expect(res.status).toBe(200);
        const migration = (await res.json()) as { durationMs: number };
        const ratio = d.expected / migration.durationMs;
        expect(ratio, `estimate ${d.expected} ms vs migration ${migration.durationMs} ms`).toBeGreaterThan(
          ESTIMATE_FACTOR.low,
        );
        expect(ratio, `estimate ${d.expected} ms vs migration ${migration.durationMs} ms`).toBeLessThan(
          ESTIMATE_FACTOR.high,
        );
        const v2Bytes = await countOf(
          t,
          `SELECT (pg_total_relation_size('resources') + pg_total_relation_size('capabilities'))::float8 AS n`,
        );
        const size = estimate.v2SizeBytes!.totalAfter / v2Bytes;
        expect(size, `estimated ${estimate.v2SizeBytes!.totalAfter} bytes vs ${v2Bytes}`).toBeGreaterThan(0.5);
        expect(size, `estimated ${estimate.v2SizeBytes!.totalAfter} bytes vs ${v2Bytes}`).toBeLessThan(2);

        // Migrated: v2 present with its rows; nothing left to copy; still nothing changed by a preflight.
        const afterMigration = await tableChecksums(t.admin);
        const migrated = await preflight(app, { sampleServers: 100 });
        expect(changedTables(afterMigration, await tableChecksums(t.admin))).toEqual([]);
        expect(migrated.v2).toBe('present');
        expect(check(migrated, 'v2.state').details).toMatchObject({ state: 'present', rows: servers + tools });
        expect(table(migrated, 'capabilities')).toMatchObject({ exists: true, rows: tools });
        expect(migrated.estimate.toCopy).toEqual({ resources: 0, capabilities: 0, counted: 'dry-run' });
        expect(migrated.estimate.sample!.rowsCopied).toBe(0);
      }));

    it('v2 tables made by SARK but not by /migrate are adoptable; half of them is a critical conflict', () =>
      withDatabase(target, async (t, app) => {
        await seedV1(t.db, { servers: 5, toolsPerServer: 2, withV2: false });
        await runSarkDdl(t.admin, 'v2_schema.sql');
        const adoptable = await preflight(app, { sampleServers: 0 });
        expect(adoptable.v2).toBe('adoptable');
        expect(check(adoptable, 'v2.state')).toMatchObject({ passed: true, details: { state: 'adoptable' } });
        expect(adoptable.estimate).toMatchObject({ sample: null, skipped: expect.stringMatching(/sampleServers: 0/) });
        await t.admin.query('DROP TABLE principal_budgets');
        const conflict = await preflight(app, { sampleServers: 0 });
        expect(conflict).toMatchObject({ v2: 'conflict', status: 'critical' });
        expect(check(conflict, 'v2.state')).toMatchObject({ passed: false, severity: 'critical' });
      }));

    it('a pooler host fails connection.direct; a Neon database gets a cost at the defaults or the prices asked', () =>
      withDatabase(
        target,
        async (t, app) => {
          await seedV1(t.db, { servers: 40, toolsPerServer: 3, withV2: false });
          const report = await preflight(app, { sampleServers: 20 });
          const direct = check(report, 'connection.direct');
          if (target.driver === 'pglite') expect(direct.passed).toBe(true);
          else {
            expect(direct).toMatchObject({ passed: false, severity: 'critical' });
            expect(report.status).toBe('critical');
          }
          expect(report.estimate.cost).toMatchObject({
            pricesFrom: 'configuration',
            computeCu: 1,
            cuHourUsd: 0.14,
            storageGbMonthUsd: 0.2,
            pricesAsOf: '2025-08-14',
          });
          const asked = await preflight(app, { sampleServers: 20, neon: { computeCu: 4, cuHourUsd: 1 } });
          const cost = asked.estimate.cost!;
          expect(cost).toMatchObject({ pricesFrom: 'request', computeCu: 4, cuHourUsd: 1, storageGbMonthUsd: 0.2 });
          expect(cost.computeHours.expected).toBeCloseTo((asked.estimate.durationMs!.expected / 3_600_000) * 4, 12);
          expect(cost.computeUsd.expected).toBeCloseTo(cost.computeHours.expected * 1, 12);
          const added = asked.estimate.v2SizeBytes!.resources.added + asked.estimate.v2SizeBytes!.capabilities.added;
          expect(cost.storageAddedGb).toBeCloseTo(added / 1024 ** 3, 12);
          expect(cost.storageUsdPerMonth).toBeCloseTo(cost.storageAddedGb * 0.2, 12);
        },
        {
          target: {
            host: 'ep-cool-river-123456-pooler.us-east-2.aws.neon.tech',
            neon: true,
            neonPricing: { storageGbMonthUsd: 0.2 },
          },
        },
      ));

    it('refuses bad input with a 400 naming each field, and a read token with a 403; nothing changes', () =>
      withDatabase(target, async (t, app) => {
        await seedV1(t.db, { servers: 5, toolsPerServer: 2, withV2: false });
        const before = await tableChecksums(t.admin);
        const res = await app.call('POST', '/preflight', {
          as: 'runner',
          body: { sampleServers: -1, longTransactionSeconds: 0, neon: { computeCu: 0, spot: true }, dryRun: false },
        });
        expect(res.status).toBe(400);
        const problem = (await res.json()) as { errors: { field: string }[] };
        expect(problem.errors.map((e) => e.field).sort()).toEqual(
          ['dryRun', 'longTransactionSeconds', 'neon.computeCu', 'neon.spot', 'sampleServers'].sort(),
        );
        const forbidden = await app.call('POST', '/preflight', { as: 'reader', body: {} });
        expect(forbidden.status).toBe(403);
        expect(changedTables(before, await tableChecksums(t.admin))).toEqual([]);
      }));

    if (target.driver !== 'pglite')
      it('a long transaction and a lock held by another session fail their checks, and pass once it ends', () =>
        withDatabase(target, async (t, app) => {
          await seedV1(t.db, { servers: 30, toolsPerServer: 2, withV2: false });
          const other = await t.connect!();
          try {
            const pid = Number((await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
            await other.query('BEGIN');
            await other.query('LOCK TABLE mcp_tools IN SHARE MODE');
            await new Promise((resolve) => setTimeout(resolve, 1_500));
            const held = await preflight(app, { longTransactionSeconds: 1, sampleServers: 10 });
            expect(held).toMatchObject({ status: 'failed', exitCode: 1 });
            expect(check(held, 'activity.long_transactions')).toMatchObject({ passed: false, severity: 'error' });
            expect(check(held, 'activity.long_transactions').sample).toContain(String(pid));
            const locks = check(held, 'activity.table_locks');
            expect(locks).toMatchObject({ passed: false, severity: 'error', sample: [String(pid)] });
            expect(locks.details.blocking).toEqual([
              expect.objectContaining({ table: 'mcp_tools', mode: 'ShareLock', granted: true, pid }),
            ]);
            await other.query('ROLLBACK');
            const free = await preflight(app, { longTransactionSeconds: 1, sampleServers: 10 });
            expect(check(free, 'activity.long_transactions').passed).toBe(true);
            expect(check(free, 'activity.table_locks').passed).toBe(true);

            // A lock every read waits for: a finding, with the catalogue's estimates, never a hang.
            await other.query('BEGIN');
            await other.query('LOCK TABLE mcp_servers IN ACCESS EXCLUSIVE MODE');
            const exclusive = await preflight(app, { sampleServers: 10 });
            await other.query('ROLLBACK');
            expect(check(exclusive, 'activity.table_locks').details.blocking).toEqual([
              expect.objectContaining({ table: 'mcp_servers', mode: 'AccessExclusiveLock', pid }),
            ]);
            expect(table(exclusive, 'mcp_servers')).toMatchObject({ exists: true, counted: 'estimate' });
            expect(exclusive.estimate).toMatchObject({ sample: null, skipped: expect.stringMatching(/lock/) });
          } finally {
            await other.close();
          }
        }));

    it('reads connection slots, the timeouts, dead tuples and replication slots from the server', () =>
      withDatabase(target, async (t, app) => {
        await seedV1(t.db, { servers: 300, toolsPerServer: 10, withV2: false });
        const clean = await preflight(app, { sampleServers: 0 });
        const slots = check(clean, 'connections.free_slots');
        const max = await countOf(t, `SELECT current_setting('max_connections')::int AS n`);
        expect(slots.details).toMatchObject({ max, needed: 5 });
        const { superuser_reserved: su, reserved, used, free } = slots.details as Record<string, number>;
        expect(free).toBe(max - su! - reserved! - used!);
        expect(slots.passed).toBe(free! >= 5);
        expect(check(clean, 'session.statement_timeout')).toMatchObject({
          passed: true,
          details: { configured: null },
        });
        expect(check(clean, 'maintenance.dead_tuples').passed).toBe(true);
        expect(check(clean, 'replication.slots').passed).toBe(true);

        // A database default shorter than a batch may take: new sessions (psql, the runbook) get it.
        const database = (await t.admin.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
        await t.admin.query(`ALTER DATABASE "${database}" SET statement_timeout = '1s'`);
        // Every tool updated once: as many dead tuples as live ones, once the statistics are flushed.
        await t.admin.query('UPDATE mcp_tools SET description = description');
        await t.admin.query('SELECT pg_stat_force_next_flush()');
        await t.admin.query('SELECT 1');
        let dirty = await preflight(app, { sampleServers: 0 });
        for (let i = 0; i < 20 && check(dirty, 'maintenance.dead_tuples').passed; i++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          dirty = await preflight(app, { sampleServers: 0 });
        }
        expect(check(dirty, 'maintenance.dead_tuples')).toMatchObject({ passed: false, sample: ['mcp_tools'] });
        expect(check(dirty, 'session.statement_timeout')).toMatchObject({
          passed: false,
          severity: 'warning',
          details: { configured: { level: 'ALTER DATABASE', value: '1s', ms: 1000 } },
        });
        if (target.driver === 'pglite') return;
        // A physical slot that reserves WAL and that nothing reads: inactive.
        const slot = `sm_preflight_${Math.random().toString(36).slice(2, 8)}`;
        await t.admin.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
        try {
          const held = await preflight(app, { sampleServers: 0 });
          expect(check(held, 'replication.slots')).toMatchObject({ passed: false, severity: 'warning' });
          expect(check(held, 'replication.slots').sample).toContain(slot);
        } finally {
          await t.admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
        }
      }));
  });
}
