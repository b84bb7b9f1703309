import { pg_stat_statements } from '@electric-sql/pglite/contrib/pg_stat_statements';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { installHypopg } from '../../../test/support/hypopg.js';
import { seedV1 } from '../../../test/support/seed.js';
import { createPgDatabase } from '../../adapters/db/pg.js';
import { inventory } from '../../operations/optimize/inventory.js';
import { plan } from '../../operations/optimize/plan.js';
import { readWorkload } from '../../operations/optimize/workload.js';
import { optimizationReportSchema, type OptimizationReport } from '../../reports/optimization.js';

/**
 * The application's statements the tests run, as a client sends them (values bound). The ones an
 * index serves are on (sensitivity_level DESC, name): pg_stat_statements keeps
 * `input_schema->>'type'` as `input_schema->>$2`, so no statement it keeps can show the expression
 * index at work (BY_TYPE checks that it is listed, and not credited to it).
 */
const BY_LEVEL = `SELECT id, name FROM capabilities WHERE sensitivity_level = $1 ORDER BY name LIMIT 20`;
/** No constant at all (FETCH FIRST ROW ONLY has none to normalise): pg_stat_statements keeps it without parameters. */
const TOP = `SELECT id, name, sensitivity_level FROM capabilities ORDER BY sensitivity_level DESC, name FETCH FIRST ROW ONLY`;
const BY_TYPE = `SELECT id, name FROM capabilities WHERE input_schema->>'type' = $1`;
/** Runs, but its normalised text ($2 IS NOT NULL) cannot be prepared: the type of $2 is unknown. */
const UNPLANNABLE = `SELECT id FROM resources WHERE 'x' IS NOT NULL AND protocol = $1`;
const ON_V1 = `SELECT count(*) FROM mcp_servers s JOIN resources r ON r.name = s.name WHERE r.protocol = $1`;
const SEMICOLON = `SELECT /* ; */ count(*) FROM resources WHERE protocol = $1`;
const ON_SERVICE_SCHEMA = `SELECT count(*) FROM resources r WHERE NOT EXISTS (SELECT 1 FROM sark_migrate.runs) AND r.protocol = $1`;

type Workload = NonNullable<OptimizationReport['workload']>;
type Statement = Workload['statements'][number];

/** Every index of the v2 tables with its validity, and the row counts: what "changes nothing" compares. */
const state = async (t: TestDatabase) =>
  (
    await t.db
      .query(`SELECT (SELECT string_agg(c.relname || ':' || i.indisvalid, ',' ORDER BY c.relname) FROM pg_index i
              JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid IN ('resources'::regclass, 'capabilities'::regclass)) AS indexes,
            (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities`)
  ).rows[0];

for (const target of databaseTargets({ pgliteExtensions: { pg_stat_statements } })) {
  describe(`POST /optimize with the workload of pg_stat_statements [${target.driver}]`, () => {
    let t: TestDatabase;
    let app: TestApp;
    let hypopg = false;
    /** Whether pg_stat_statements can be read: its library is in shared_preload_libraries. */
    let loaded = false;

    beforeAll(async () => {
      t = await target.open();
      await seedV1(t.db, { servers: 1500, toolsPerServer: 2 });
      app = await makeTestApp(t.db);
      expect((await app.call('POST', '/migrate', { body: { dryRun: false, batchSize: 5000 } })).status).toBe(200);
      await t.admin.query('VACUUM ANALYZE');
      hypopg = await installHypopg(t);
      await t.admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      loaded = await t.admin.query('SELECT count(*) FROM pg_stat_statements').then(
        () => true,
        () => false,
      );
      // CI's PostgreSQL preloads the library, so there its absence is a failure, not a skip.
      if (!loaded && process.env.CI)
        throw new Error('pg_stat_statements is not loaded on the test PostgreSQL: add it to shared_preload_libraries');
      if (!loaded) return;
      // The statistics are the server's, shared by every test database: only this database's are reset.
      await t.admin.query(
        'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
      );
      for (let i = 0; i < 30; i++) await t.db.query(BY_LEVEL, [i % 2 ? 'high' : 'critical']);
      for (let i = 0; i < 10; i++) await t.db.query(TOP);
      for (let i = 0; i < 20; i++) await t.db.query(BY_TYPE, ['array']);
      for (let i = 0; i < 5; i++) {
        await t.db.query(UNPLANNABLE, ['mcp']);
        await t.db.query(ON_V1, ['mcp']);
        await t.db.query(SEMICOLON, ['mcp']);
        await t.db.query(ON_SERVICE_SCHEMA, ['mcp']);
      }
    }, 180_000);
    afterAll(async () => {
      await t?.dispose();
    });

    const optimize = async (body: object, as: 'runner' | 'admin' = 'runner'): Promise<OptimizationReport> => {
      const res = await app.call('POST', '/optimize', { as, body });
      expect(res.status, await res.clone().text()).toBe(200);
      return optimizationReportSchema.parse(await res.json()); // the published schema describes what is sent
    };
    const find = (workload: Workload, text: RegExp): Statement | undefined =>
      workload.statements.find((s) => text.test(s.query));

    it('plan takes the heaviest statements on the v2 tables, plans each without its values, and says which candidate serves which', async (ctx) => {
      if (!loaded) ctx.skip('pg_stat_statements is not loaded on this server (shared_preload_libraries)');
      const before = await state(t);
      const report = await optimize({ action: 'plan' });
      expect(await state(t)).toEqual(before);
      const workload = report.workload!;
      expect(workload).toMatchObject({ source: 'pg_stat_statements', state: 'used' });

      const byLevel = find(workload, /WHERE sensitivity_level = \$1 ORDER BY name LIMIT \$2$/)!;
      expect(byLevel).toMatchObject({ calls: 30, parameters: 2, planCost: expect.any(Number) });
      expect(byLevel.meanExecMs).toBeGreaterThan(0);
      expect(find(workload, /FETCH FIRST ROW ONLY$/)).toMatchObject({ calls: 10, parameters: 0 });
      // pg_stat_statements replaces every constant, the 'type' of the expression too: no plan of the
      // text it keeps can use the expression index, whatever the values.
      const byType = find(workload, /input_schema->>\$2 = \$1$/)!;
      expect(byType).toMatchObject({ calls: 20, parameters: 2 });
      expect(byType.servedBy).not.toContain('ix_capabilities_input_schema_type');

      const unplannable = find(workload, /\$2 IS NOT NULL/)!;
      expect(unplannable).toMatchObject({
        planCost: null,
        skipped: expect.stringMatching(/could not determine data type of parameter \$2/),
        servedBy: [],
      });
      // Migration and validation statements, the service's own tables, and texts the simple protocol would split.
      expect(workload.statements.filter((s) => /mcp_servers|mcp_tools|;|sark_migrate\./.test(s.query))).toEqual([]);
      expect(report.summary.message).toMatch(/Workload: \d+ statements on the v2 tables from pg_stat_statements/);

      const served = report.recommendations.find((r) => r.name === 'ix_capabilities_sensitivity_name');
      if (hypopg) {
        // Served by the hypothetical index, with the planner's cost before and after, on every statement it helps.
        for (const s of [byLevel, find(workload, /FETCH FIRST ROW ONLY$/)!]) {
          expect(s.servedBy).toContain('ix_capabilities_sensitivity_name');
          const entry = served!.statements!.find((x) => x.queryid === s.queryid)!;
          expect(entry.costAfter).toBeLessThan(entry.costBefore);
          expect(entry.reduction).toBeGreaterThan(0);
          expect(served!.evidence.join(' ')).toContain(`statement ${s.queryid} (`);
        }
        expect(['high', 'medium', 'low']).toContain(served!.priority);
      } else {
        // No HypoPG (PGlite): listed and planned, evaluated by nothing.
        expect(workload.statements.every((s) => s.servedBy.length === 0)).toBe(true);
        expect(served?.evaluation.method ?? 'unevaluated').toBe('unevaluated');
      }
    });

    it('plan clears a prepared statement a cut-off plan left on its connection, and leaves none itself', async (ctx) => {
      if (!loaded) ctx.skip('pg_stat_statements is not loaded on this server (shared_preload_libraries)');
      // One connection, so what the plan leaves on it is what the next query sees.
      const single = t.reopen?.(1) ?? t.db;
      try {
        await single.query('PREPARE sark_migrate_workload AS SELECT 1');
        const planned = await plan(single, await inventory(single));
        expect(planned.workload.state).toBe('used');
        expect(planned.workload.statements.length).toBeGreaterThan(0);
        const left = await single.query(`SELECT name FROM pg_prepared_statements`);
        expect(left.rows).toEqual([]);
      } finally {
        if (single !== t.db) await single.close();
      }
    });

    // After the plans: it builds the index they evaluate.
    it('apply times the served statements without parameters, and gives the real plan cost of those with', async (ctx) => {
      if (!loaded) ctx.skip('pg_stat_statements is not loaded on this server (shared_preload_libraries)');
      const report = await optimize(
        {
          action: 'apply',
          indexes: ['ix_capabilities_sensitivity_name'],
          iterations: 3,
          warmup: 1,
          verifyTargets: false,
        },
        'admin',
      );
      const applied = report.applied[0]!;
      expect(applied).toMatchObject({ name: 'ix_capabilities_sensitivity_name', status: 'built' });
      const statements = applied.statements ?? [];
      const top = statements.find((s) => /FETCH FIRST ROW ONLY$/.test(s.query))!;
      expect(top).toMatchObject({
        parameters: 0,
        verdict: expect.stringMatching(/faster|slower|no measurable change/),
      });
      expect(top.before!.p50Ms).toBeGreaterThan(0);
      expect(top.after!.p50Ms).toBeGreaterThan(0);
      expect(top.after!.indexes).toContain('ix_capabilities_sensitivity_name');
      expect(top.costAfter).toBeLessThan(top.costBefore);

      const byLevel = statements.find((s) => /ORDER BY name LIMIT \$2$/.test(s.query))!;
      expect(byLevel).toMatchObject({ parameters: 2, note: expect.stringMatching(/cannot run without its values/) });
      expect(byLevel.before).toBeUndefined();
      expect(byLevel.costAfter).toBeLessThan(byLevel.costBefore);

      // Built, the index serves the statement for real: the next plan says so.
      const next = await optimize({ action: 'plan' });
      expect(find(next.workload!, /FETCH FIRST ROW ONLY$/)!.servedBy).toContain('ix_capabilities_sensitivity_name');
    });

    it('where the library is not loaded, plan says so and goes on', async () => {
      // The server here preloads it, so its absence is made as PostgreSQL reports it: a function of
      // the same name and signature earlier on the search_path ("$user" comes before public) that
      // fails with pg_stat_statements' own SQLSTATE and words.
      await t.admin.query(`DO $$ BEGIN
        EXECUTE format('CREATE SCHEMA %I', current_user);
        EXECUTE format($f$CREATE FUNCTION %I.pg_stat_statements(boolean) RETURNS SETOF public.pg_stat_statements
          LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION ''pg_stat_statements must be loaded via shared_preload_libraries'' USING ERRCODE = ''55000''; END'$f$, current_user);
      END $$`);
      // PGlite's search_path is public alone; its one session is the app's too.
      if (target.driver === 'pglite') await t.admin.query(`SET search_path = "$user", public`);
      try {
        const report = await optimize({ action: 'plan' });
        expect(report).toMatchObject({ status: 'succeeded' });
        expect(report.workload).toMatchObject({
          state: 'not-loaded',
          reason: expect.stringMatching(/must be loaded via shared_preload_libraries/),
          statements: [],
        });
      } finally {
        if (target.driver === 'pglite') await t.admin.query('RESET search_path');
        await t.admin.query(`DO $$ BEGIN EXECUTE format('DROP SCHEMA %I CASCADE', current_user); END $$`);
      }
    });

    it('a database without the extension reports not-installed, and what to run', async () => {
      await t.admin.query('DROP EXTENSION IF EXISTS pg_stat_statements');
      try {
        const report = await optimize({ action: 'plan' });
        expect(report.workload).toMatchObject({
          state: 'not-installed',
          reason: expect.stringMatching(/CREATE EXTENSION pg_stat_statements/),
          statements: [],
        });
        expect(report.summary.message).toMatch(/Workload \(pg_stat_statements\) not-installed/);

        // Installed where the service's search_path does not look: unreadable, and why.
        await t.admin.query('CREATE SCHEMA sm_elsewhere');
        await t.admin.query('CREATE EXTENSION pg_stat_statements SCHEMA sm_elsewhere');
        const elsewhere = await optimize({ action: 'plan' });
        expect(elsewhere.workload).toMatchObject({
          state: 'unreadable',
          reason: expect.stringMatching(/search_path/),
          statements: [],
        });
      } finally {
        await t.admin.query('DROP EXTENSION IF EXISTS pg_stat_statements');
        await t.admin.query('DROP SCHEMA IF EXISTS sm_elsewhere');
        await t.admin.query('CREATE EXTENSION pg_stat_statements');
      }
    });

    it.runIf(target.driver !== 'pglite')('a role that may not read it gets unreadable, with the reason', async () => {
      // Roles belong to the server, shared by every test database: a name of its own, dropped after.
      const role = `sm_reader_${Math.random().toString(36).slice(2, 8)}`;
      await t.admin.query(`CREATE ROLE ${role} LOGIN`);
      await t.admin.query('REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM PUBLIC');
      const url = new URL(t.url!);
      url.username = role;
      const reader = createPgDatabase({ connectionString: url.toString(), max: 1 });
      try {
        expect(await readWorkload(reader)).toMatchObject({
          state: 'unreadable',
          reason: expect.stringMatching(/permission denied/),
          statements: [],
        });
      } finally {
        await reader.close();
        await t.admin.query('GRANT EXECUTE ON FUNCTION pg_stat_statements(boolean) TO PUBLIC');
        await t.admin.query(`DROP ROLE ${role}`);
      }
    });
  });
}
