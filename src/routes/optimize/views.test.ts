import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { seedV1 } from '../../../test/support/seed.js';
import { benchmarkReportSchema } from '../../reports/benchmark.js';
import { optimizationReportSchema } from '../../reports/optimization.js';
import { PATTERNS } from '../../sql/benchmark.js';
import { VIEWS } from '../../sql/views.js';

const VIEW = 'mv_cross_protocol_capabilities';
const { uniqueIndex, orderIndex } = VIEWS[VIEW];
const PATTERN = PATTERNS.cross_protocol_capabilities;

/**
 * Besides the migrated MCP servers: http and grpc resources whose capabilities carry the
 * MCP tools' names too, so the ORDER BY (protocol, name) meets ties within and across protocols.
 */
const OTHER_PROTOCOLS = `
WITH r AS (
  INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level)
  SELECT p || '-' || g, p || ' service ' || g, p, p || '://svc' || g, (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4]
    FROM generate_series(1, 10) g, unnest(ARRAY['http', 'grpc']) p
  RETURNING id)
INSERT INTO capabilities (id, resource_id, name, sensitivity_level, input_schema)
SELECT r.id || '-op' || k, r.id, CASE WHEN k = 5 THEN 'tool_1' ELSE 'op_' || (k % 3) END,
       (ARRAY['low', 'medium', 'high', 'critical'])[1 + (k + length(r.id)) % 4],
       jsonb_build_object('type', CASE WHEN k % 2 = 0 THEN 'object' ELSE 'array' END)
  FROM r, generate_series(1, 5) k`;

type Row = { protocol: string; name: string; sensitivity_level: string; input_type: string | null };
type Measured = { p50Ms: number | null; p95Ms: number | null; indexes: string[] };
type Applied = {
  name: string;
  kind?: string;
  status: string;
  error?: string;
  notes: string[];
  buildMs?: number;
  refreshMs?: number;
  patterns: { query: string; before: Measured; after?: Measured; usesIndex?: boolean; verdict?: string }[];
};
type Recommendation = {
  name: string;
  kind?: string;
  sql: string;
  priority: string;
  state: string;
  patterns: string[];
  evidence: string[];
  evaluation: {
    method: string;
    probes?: { query: string; costBefore: number; costAfter: number; reduction: number; usesIndex: boolean }[];
  };
  refresh?: { statement: string; estimatedRows: number; definitionCost: number; measuredMs: number | null };
  staleness?: string;
};
type Report = {
  status: string;
  summary: Record<string, unknown>;
  recommendations: Recommendation[];
  applied: Applied[];
  diagnoses?: Record<string, { whyNoIndex: { reason: string } | null }>;
};
type PatternResult = {
  pattern: string;
  sql: string;
  rows: number | null;
  p50Ms: number | null;
  indexes: string[];
  via?: string;
  original?: { sql: string; rows: number | null; p50Ms: number | null };
  viaSkipped?: { view: string; reason: string };
};

/** What the view and its indexes leave in the catalogue: nothing, when a build failed. */
const leftovers = async (t: TestDatabase) =>
  (
    await t.db.query<{ name: string }>(`SELECT n AS name FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL`, [
      [VIEW, uniqueIndex.name, orderIndex.name],
    ])
  ).rows.map((r) => r.name);

/** The objects of the schema and the v2 tables' rows: what "changes nothing" compares. */
const state = async (t: TestDatabase) =>
  (
    await t.db.query(`SELECT (SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace) AS relations,
            (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities`)
  ).rows[0];

const key = (r: Row) => `${r.protocol}\u0000${r.name}`;
const whole = (r: Row) => JSON.stringify([r.protocol, r.name, r.sensitivity_level, r.input_type]);
const sorted = (rows: Row[]) => rows.map(whole).sort();

for (const target of databaseTargets()) {
  describe(`POST /optimize views: ${VIEW} [${target.driver}]`, () => {
    let t: TestDatabase;
    let app: TestApp;

    beforeAll(async () => {
      t = await target.open();
      await seedV1(t.db, { servers: 1500, toolsPerServer: 4 });
      app = await makeTestApp(t.db);
      expect((await app.call('POST', '/migrate', { body: { dryRun: false, batchSize: 5000 } })).status).toBe(200);
      await t.admin.query(OTHER_PROTOCOLS);
      await t.admin.query('VACUUM ANALYZE');
    }, 180_000);
    afterAll(async () => {
      await t?.dispose();
    });

    const optimize = async (body: object, as: 'runner' | 'admin' = 'runner'): Promise<Report> => {
      const res = await app.call('POST', '/optimize', { as, body });
      expect(res.status, await res.clone().text()).toBe(200);
      const report = await res.json();
      optimizationReportSchema.parse(report);
      return report;
    };
    const benchmark = async (params: object = {}): Promise<PatternResult> => {
      const res = await app.call('POST', '/benchmark', {
        body: { patterns: ['cross_protocol_capabilities'], iterations: 3, warmup: 1, params },
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const report = await res.json();
      benchmarkReportSchema.parse(report);
      return report.results[0];
    };

    /**
     * The pattern's answer and the view's for the same values, compared as SQL allows: the same
     * sort keys in the same order; the same rows in every group of equal keys but the last, which
     * the LIMIT cuts and where either may return any of the tied rows: there every row of the
     * view's must be one the pattern could return (a row of its unlimited result, as often).
     */
    const answers = async (protocols: string[], excluded: string) => {
      const values = [protocols, excluded];
      const original = (await t.db.query<Row>(PATTERN.sql, values)).rows;
      const via = (await t.db.query<Row>(VIEWS[VIEW].via.sql, values)).rows;
      const cut = original.at(-1)!;
      const outside = (rows: Row[]) => rows.filter((r) => key(r) !== key(cut));
      const tiedAll = (
        await t.db.query<Row>(
          `SELECT r.protocol, c.name, c.sensitivity_level, c.input_schema->>'type' AS input_type
             FROM capabilities c JOIN resources r ON r.id = c.resource_id
            WHERE r.protocol = $1 AND c.name = $2 AND c.sensitivity_level <> $3`,
          [cut.protocol, cut.name, excluded],
        )
      ).rows.map(whole);
      const tiedVia = via.filter((r) => key(r) === key(cut)).map(whole);
      const pool = [...tiedAll];
      const everyTiedRowPossible = tiedVia.every((row) => {
        const at = pool.indexOf(row);
        if (at < 0) return false;
        pool.splice(at, 1);
        return true;
      });
      return {
        original,
        via,
        tiesAtCut: tiedAll.length - original.filter((r) => key(r) === key(cut)).length,
        same:
          original.length === via.length &&
          JSON.stringify(original.map(key)) === JSON.stringify(via.map(key)) &&
          JSON.stringify(sorted(outside(original))) === JSON.stringify(sorted(outside(via))) &&
          everyTiedRowPossible,
      };
    };

    it('plan proposes the view with the diagnosis, the estimated cost through it, the refresh and the staleness, and changes nothing', async () => {
      const before = await state(t);
      const report = await optimize({ action: 'plan' });
      expect(await state(t)).toEqual(before);
      expect(report.diagnoses!.cross_protocol_capabilities!.whyNoIndex!.reason).toMatch(/two joined tables/);
      const rec = report.recommendations.find((r) => r.name === VIEW)!;
      expect(rec).toMatchObject({
        kind: 'materialized view',
        state: 'absent',
        patterns: ['cross_protocol_capabilities'],
        evaluation: { method: 'estimated' },
        refresh: { statement: `REFRESH MATERIALIZED VIEW CONCURRENTLY ${VIEW}`, measuredMs: null },
      });
      expect(rec.sql).toContain(`CREATE MATERIALIZED VIEW ${VIEW} AS`);
      expect(rec.sql).toContain(`CREATE UNIQUE INDEX ${uniqueIndex.name} ON ${VIEW} (capability_id)`);
      expect(rec.sql).toContain(`CREATE INDEX ${orderIndex.name} ON ${VIEW} (protocol, name)`);
      expect(rec.evidence[0]).toMatch(/^cross_protocol_capabilities: The ORDER BY .* two joined tables/);
      expect(rec.evidence.join(' ')).toMatch(/planner cost [\d.]+ → at most [\d.]+/);
      expect(rec.staleness).toMatch(/as of its last refresh/);
      // The view would hold one row per capability: the planner's estimate is near the real count.
      const capabilities = Number((await t.db.query('SELECT count(*)::int AS n FROM capabilities')).rows[0]!.n);
      expect(rec.refresh!.estimatedRows).toBeGreaterThan(capabilities / 2);
      expect(rec.refresh!.estimatedRows).toBeLessThan(capabilities * 2);
      const [probe] = rec.evaluation.probes!;
      expect(probe).toMatchObject({ query: 'cross_protocol_capabilities', usesIndex: true });
      expect(probe!.costBefore).toBeGreaterThan(0);
      expect(probe!.costAfter).toBeGreaterThan(0);
      // Sorting every joined row costs more than an ordered scan that stops after the LIMIT.
      expect(probe!.costAfter).toBeLessThan(probe!.costBefore);

      // Named, only it is evaluated.
      const only = await optimize({ action: 'plan', views: [VIEW] });
      expect(only.recommendations.map((r) => r.name)).toEqual([VIEW]);
      expect(await state(t)).toEqual(before);
    });

    it('refuses a view without the apply scope, unknown or named twice, and changes nothing', async () => {
      const before = await state(t);
      expect(
        (await app.call('POST', '/optimize', { as: 'runner', body: { action: 'apply', views: [VIEW] } })).status,
      ).toBe(403);
      expect((await app.call('POST', '/optimize', { as: 'reader', body: { action: 'plan' } })).status).toBe(403);
      const bad = await app.call('POST', '/optimize', {
        as: 'admin',
        body: { action: 'apply', views: ['mv_drop_table_resources'], indexes: [] },
      });
      expect(bad.status).toBe(400);
      expect((await bad.json()).errors.map((e: { field: string }) => e.field).sort()).toEqual(['indexes', 'views.0']);
      const twice = await app.call('POST', '/optimize', {
        as: 'admin',
        body: { action: 'apply', views: [VIEW, VIEW] },
      });
      expect(twice.status).toBe(400);
      expect((await twice.json()).errors.map((e: { field: string }) => e.field)).toEqual(['views']);
      expect(await state(t)).toEqual(before);
    });

    it('a build that fails half-way leaves nothing behind', async () => {
      // The view and its unique index are made, then the order index's name is taken: the third statement fails.
      await t.admin.query(`CREATE INDEX ${orderIndex.name} ON resources (name)`);
      try {
        const report = await optimize(
          { action: 'apply', views: [VIEW], iterations: 2, warmup: 0, verifyTargets: false },
          'admin',
        );
        expect(report).toMatchObject({ status: 'failed', summary: { built: 0, failed: 1 } });
        expect(report.applied[0]).toMatchObject({
          name: VIEW,
          kind: 'materialized view',
          status: 'failed',
          error: expect.stringMatching(/already exists/),
        });
        expect(report.applied[0]!.notes.join(' ')).toMatch(/rolled back: nothing was left behind/);
      } finally {
        await t.admin.query(`DROP INDEX ${orderIndex.name}`);
      }
      expect(await leftovers(t)).toEqual([]);
    });

    it.runIf(target.driver !== 'pglite')('a build cancelled while it runs leaves nothing behind', async () => {
      // A session creating a relation of the view's name, uncommitted, keeps the build waiting in its
      // first statement (the pattern's timing before it reads on); the build is then cancelled.
      const blocker = await t.connect!();
      await blocker.query('BEGIN');
      await blocker.query(`CREATE TABLE ${VIEW} (x int)`);
      const answer = app.call('POST', '/optimize', {
        as: 'admin',
        body: { action: 'apply', views: [VIEW], iterations: 1, warmup: 0, verifyTargets: false, lockTimeoutMs: 60_000 },
      });
      try {
        let cancelled = false;
        for (let i = 0; i < 200 && !cancelled; i++) {
          const { rows } = await t.admin.query<{ cancelled: boolean }>(
            `SELECT pg_cancel_backend(pid) AS cancelled FROM pg_stat_activity
              WHERE datname = current_database() AND query LIKE 'CREATE MATERIALIZED VIEW ${VIEW}%' AND wait_event_type = 'Lock'`,
          );
          cancelled = rows.some((r) => r.cancelled);
          if (!cancelled) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(cancelled).toBe(true);
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.close();
      }
      const res = await answer;
      expect(res.status).toBe(200);
      const report = (await res.json()) as Report;
      expect(report.applied[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/cancel/i) });
      expect(await leftovers(t)).toEqual([]);
    });

    it('apply builds it and times its refresh; /benchmark then times the pattern through it, with the same rows', async () => {
      const report = await optimize(
        { action: 'apply', views: [VIEW], iterations: 3, warmup: 1, verifyTargets: true },
        'admin',
      );
      expect(report).toMatchObject({ status: 'succeeded', summary: { built: 1, failed: 0 } });
      expect(report.summary.message).toMatch(/Built 1 of 1 materialized view;/);
      const applied = report.applied[0]!;
      expect(applied).toMatchObject({ name: VIEW, kind: 'materialized view', status: 'built' });
      expect(applied.buildMs).toBeGreaterThanOrEqual(0);
      expect(applied.refreshMs).toBeGreaterThanOrEqual(0);
      const [pattern] = applied.patterns;
      expect(pattern).toMatchObject({ query: 'cross_protocol_capabilities', usesIndex: true });
      expect(pattern!.before.p50Ms).toBeGreaterThan(0);
      expect(pattern!.after!.indexes).toContain(orderIndex.name);
      expect(
        (report as unknown as { targets: { pattern: string; via?: string }[] }).targets.find(
          (x) => x.pattern === 'cross_protocol_capabilities',
        ),
      ).toMatchObject({ via: VIEW });
      const valid = await t.db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid = to_regclass($1) AND i.indisvalid ORDER BY 1`,
        [VIEW],
      );
      expect(valid.rows.map((r) => r.name)).toEqual([orderIndex.name, uniqueIndex.name].sort());

      // The rows through the view are the pattern's: ties at the cut, repeated protocols, another level left out.
      for (const [protocols, excluded] of [
        [['mcp', 'http', 'grpc'], 'low'],
        [['http', 'mcp', 'http'], 'low'],
        [['mcp'], 'medium'],
        [['grpc', 'grpc', 'nats'], 'critical'],
      ] as const) {
        const a = await answers([...protocols], excluded);
        expect(a.via.length, `${protocols.join(',')}`).toBe(a.original.length);
        expect(a.same, `${protocols.join(',')} without ${excluded}`).toBe(true);
        if (protocols[0] !== 'grpc') expect(a.tiesAtCut).toBeGreaterThan(0); // the cut falls inside a group of ties
      }

      const through = await benchmark();
      expect(through).toMatchObject({ via: VIEW, original: { sql: PATTERN.sql } });
      expect(through.sql).toBe(VIEWS[VIEW].via.sql);
      expect(through.rows).toBe(through.original!.rows);
      expect(through.rows).toBe(100);
      expect(through.indexes).toContain(orderIndex.name);
      expect(through.original!.p50Ms).toBeGreaterThan(0);
      const repeated = await benchmark({ protocols: ['http', 'mcp', 'http'] });
      expect(repeated.via).toBe(VIEW);

      // Once built, plan says so and apply without names leaves it be.
      const plan = await optimize({ action: 'plan', views: [VIEW] });
      expect(plan.recommendations[0]).toMatchObject({
        state: 'exists',
        priority: 'none',
        evaluation: { method: 'exists' },
      });
    });

    it('a stale view is not timed through, and apply refreshes it concurrently and times the refresh', async () => {
      // grpc sorts first: its first capabilities leave the result, but not the view.
      await t.admin.query(
        `UPDATE capabilities SET sensitivity_level = 'low' WHERE resource_id LIKE 'grpc-%' AND name = 'op_0'`,
      );
      expect((await answers(['mcp', 'http', 'grpc'], 'low')).same).toBe(false);
      const stale = await benchmark();
      expect(stale.via).toBeUndefined();
      expect(stale.sql).toBe(PATTERN.sql);
      expect(stale.viaSkipped).toMatchObject({
        view: VIEW,
        reason: expect.stringMatching(/stale since its last refresh/),
      });

      const report = await optimize({ action: 'apply', views: [VIEW], iterations: 2, verifyTargets: false }, 'admin');
      expect(report.applied[0]).toMatchObject({ status: 'refreshed', refreshMs: expect.any(Number) });
      expect((await answers(['mcp', 'http', 'grpc'], 'low')).same).toBe(true);
      expect((await benchmark()).via).toBe(VIEW);
    });
  });
}
