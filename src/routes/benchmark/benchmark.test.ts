import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { seedV1 } from '../../../test/support/seed.js';
import { PATTERN_NAMES } from '../../sql/benchmark.js';
import { benchmarkReportSchema } from '../../reports/benchmark.js';

interface Result {
  pattern: string;
  skipped: boolean;
  reason?: string;
  rows: number | null;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  usesIndex: boolean;
  indexes: string[];
  targetMs: number | null;
  withinTarget: boolean | null;
  serverMs: { p50: number } | null;
  plan: {
    sequentialScans: string[];
    scans: { node: string; relation: string | null; index: string | null }[];
    buffers: { hit: number; read: number };
  } | null;
}
type BenchmarkReport = {
  id: string;
  status: string;
  results: Result[];
  regressions: { pattern: string }[];
  summary: Record<string, unknown>;
  progress: { done: number; total: number };
};

const counts = async (t: TestDatabase) =>
  (
    await t.db
      .query(`SELECT (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities,
      (SELECT count(*)::int FROM cost_tracking) AS costs, (SELECT count(*)::int FROM mcp_servers) AS servers`)
  ).rows[0];

for (const target of databaseTargets()) {
  describe(`POST /benchmark [${target.driver}]`, () => {
    let t: TestDatabase;
    let app: TestApp;
    /** The consul id of exactly one resource: a metadata filter only the GIN index finds fast. */
    let rareFilter: Record<string, string>;

    // 6,000 servers × 2 tools, migrated, plus other protocols and a day of cost rows: enough
    // rows that the planner prefers an index where one serves.
    beforeAll(async () => {
      t = await target.open();
      await seedV1(t.db, { servers: 6000, toolsPerServer: 2 });
      app = await makeTestApp(t.db);
      expect((await app.call('POST', '/migrate', { body: { dryRun: false, batchSize: 5000 } })).status).toBe(200);
      await t.db.query(
        `INSERT INTO resources (id, name, protocol, endpoint) VALUES ('http-1', 'billing', 'http', 'https://billing'), ('grpc-1', 'ledger', 'grpc', 'grpc://ledger')`,
      );
      await t.db.query(
        `INSERT INTO capabilities (id, resource_id, name, sensitivity_level, input_schema) VALUES ('http-1-get', 'http-1', 'get invoice', 'high', '{"type": "object"}'), ('grpc-1-put', 'grpc-1', 'put entry', 'critical', '{}')`,
      );
      await t.db.query(`INSERT INTO cost_tracking (principal_id, resource_id, capability_id, actual_cost, timestamp)
        SELECT 'p' || (row_number() OVER () % 7), resource_id, id, 0.25, now() - interval '1 hour' FROM capabilities WHERE id IN (SELECT id FROM capabilities ORDER BY id LIMIT 500)`);
      // 30,000 more resources of another protocol: without its GIN index a metadata search must read
      // them all, milliseconds more than the index's single probe on any machine.
      await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint, metadata)
        SELECT 'pad-' || g, 'padding ' || g, 'http', 'https://pad', jsonb_build_object('transport', 'http', 'region', 'eu-' || g % 4, 'tags', jsonb_build_array('a', 'b'), 'n', g)
          FROM generate_series(1, 30000) g`);
      await t.admin.query('VACUUM ANALYZE'); // as autovacuum would: flushes the GIN pending lists the copy filled
      const { rows } = await t.db.query<{ consul: string }>(
        `SELECT metadata->>'consul_id' AS consul FROM resources WHERE metadata ? 'consul_id' AND metadata->>'consul_id' IS NOT NULL LIMIT 1`,
      );
      rareFilter = { consul_id: rows[0]!.consul };
    }, 180_000);
    afterAll(async () => {
      await t?.dispose();
    });

    const bench = async (body: object): Promise<BenchmarkReport> => {
      const res = await app.call('POST', '/benchmark', { as: 'runner', body });
      expect(res.status, await res.clone().text()).toBe(200);
      const report = await res.json();
      benchmarkReportSchema.parse(report); // the published schema describes what is sent
      return report;
    };
    const resultOf = (report: BenchmarkReport, pattern: string) => report.results.find((r) => r.pattern === pattern)!;

    it('measures all eight patterns: ordered percentiles, rows, server time, targets, and stores the report', async () => {
      const report = await bench({ iterations: 7, warmup: 1 });
      expect(report).toMatchObject({ kind: 'benchmark', status: 'succeeded', iterations: 7, warmup: 1 });
      expect(report.results.map((r) => r.pattern)).toEqual(PATTERN_NAMES);
      const runs = 8 * (1 + 2 * 7 + 1); // per pattern: warm-up, timed runs, as many server timings, the analysed plan
      expect(report.progress).toMatchObject({ done: runs, total: runs });
      for (const r of report.results) {
        expect(r.skipped, r.pattern).toBe(false);
        expect(r.minMs).toBeLessThanOrEqual(r.p50Ms);
        expect(r.p50Ms).toBeLessThanOrEqual(r.p95Ms);
        expect(r.p95Ms).toBeLessThanOrEqual(r.p99Ms);
        expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs);
        expect(r.serverMs!.p50).toBeGreaterThan(0);
        expect(r.plan!.buffers.hit + r.plan!.buffers.read, r.pattern).toBeGreaterThan(0);
        if (r.targetMs !== null) expect(r.withinTarget).toBe(r.p95Ms <= r.targetMs);
      }
      expect(resultOf(report, 'list_resources_by_protocol').rows).toBe(100);
      expect(resultOf(report, 'count_capabilities_per_protocol').rows).toBe(3); // mcp, http, grpc
      expect(resultOf(report, 'resource_cost_analysis').rows).toBe(50);
      expect(resultOf(report, 'count_capabilities_per_protocol').targetMs).toBeNull();
      const stored = await (await app.call('GET', `/reports/${report.id}`, { as: 'reader' })).json();
      expect(stored).toEqual(report);
    });

    it('walks the plan tree: the GIN index serves @>, and without an index the table is scanned sequentially', async () => {
      const report = await bench({
        patterns: ['search_resources_by_metadata'],
        iterations: 3,
        params: { metadataFilter: rareFilter },
      });
      const r = resultOf(report, 'search_resources_by_metadata');
      expect(r.rows).toBe(1);
      expect(r.usesIndex).toBe(true);
      expect(r.indexes).toContain('ix_resources_metadata_gin');
      expect(r.plan!.scans).toContainEqual(
        expect.objectContaining({ node: 'Bitmap Index Scan', relation: null, index: 'ix_resources_metadata_gin' }),
      );

      // capabilities.input_schema has no index: a rare key can only be found by reading the table.
      const scan = resultOf(
        await bench({
          patterns: ['search_capabilities_by_input_schema'],
          iterations: 3,
          params: { schemaKey: 'no-such-key' },
        }),
        'search_capabilities_by_input_schema',
      );
      expect(scan.rows).toBe(0);
      expect(scan.plan!.sequentialScans).toContain('capabilities');
    });

    it('flags the regression that dropping the GIN index causes, and none once it is back', async () => {
      const body = {
        patterns: ['search_resources_by_metadata'],
        iterations: 15,
        warmup: 3,
        params: { metadataFilter: rareFilter },
      };
      const baseline = await bench(body);
      await t.admin.query('DROP INDEX ix_resources_metadata_gin');
      try {
        const after = await bench({ ...body, baselineReportId: baseline.id });
        const r = resultOf(after, 'search_resources_by_metadata');
        expect(r.plan!.sequentialScans).toEqual(['resources']);
        expect(r.usesIndex).toBe(false);
        expect(after.status).toBe('regressed');
        expect(after.regressions).toEqual([expect.objectContaining({ pattern: 'search_resources_by_metadata' })]);
        expect(after.summary.regressions).toBe(1);
      } finally {
        await t.admin.query('CREATE INDEX ix_resources_metadata_gin ON resources USING gin (metadata)');
        await t.admin.query('ANALYZE resources');
      }
      const restored = await bench({ ...body, baselineReportId: baseline.id });
      expect(restored).toMatchObject({ status: 'succeeded', regressions: [], incomparable: [] });
      // Other bound values measure another query: not compared, and said so.
      const other = await bench({
        ...body,
        params: { metadataFilter: { transport: 'http' } },
        baselineReportId: baseline.id,
      });
      expect(other).toMatchObject({
        regressions: [],
        incomparable: [
          { pattern: 'search_resources_by_metadata', reason: 'the baseline bound other parameter values' },
        ],
      });
    });

    it('binds hostile parameter values as data: nothing matches and every table is intact', async () => {
      const before = await counts(t);
      const report = await bench({
        iterations: 2,
        warmup: 0,
        params: {
          protocol: "mcp'; DROP TABLE resources; --",
          metadataFilter: { "'); DELETE FROM resources; --": 1 },
          schemaKey: "type' OR 1=1; TRUNCATE capabilities; --",
          sensitivityLevels: ["high') OR ('1'='1"],
          protocols: ['grpc" OR 1=1 --'],
          excludedSensitivity: "';DELETE FROM x;--",
        },
      });
      for (const name of [
        'list_resources_by_protocol',
        'search_resources_by_metadata',
        'search_capabilities_by_input_schema',
        'high_sensitivity_capabilities',
        'cross_protocol_capabilities',
      ]) {
        expect(resultOf(report, name).rows, name).toBe(0);
      }
      expect(await counts(t)).toEqual(before);
    });

    it('refuses text PostgreSQL cannot store (NUL, an unpaired surrogate) with a 400 naming each field, running nothing', async () => {
      const before = await counts(t);
      const listed = await app.call('GET', '/reports?kind=benchmark', { as: 'reader' });
      const reports = (await listed.json()).items.length;
      const bad = await app.call('POST', '/benchmark', {
        as: 'runner',
        body: {
          params: {
            protocol: 'mcp\u0000',
            schemaKey: 'type\uD800',
            sensitivityLevels: ['high', '\uDC00low'],
            metadataFilter: { transport: 'http\u0000', 'nested\u0000key': 1, deep: [{ x: '\uD800' }] },
          },
        },
      });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
      const errors = (await bad.json()).errors as { field: string; message: string }[];
      expect(errors.map((e) => e.field).sort()).toEqual([
        'params.metadataFilter.deep.0.x',
        'params.metadataFilter.nested\u0000key',
        'params.metadataFilter.transport',
        'params.protocol',
        'params.schemaKey',
        'params.sensitivityLevels.1',
      ]);
      expect(errors.find((e) => e.field === 'params.protocol')!.message).toContain('NUL');
      // Nesting is bounded, however deep: a 400 naming where, never a stack overflow.
      for (const depth of [33, 20_000]) {
        const deep = `{"params":{"metadataFilter":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
        const refused = await app.call('POST', '/benchmark', { as: 'runner', rawBody: deep });
        expect(refused.status).toBe(400);
        const [error] = (await refused.json()).errors;
        expect(error).toMatchObject({
          field: `params.metadataFilter.a${'.0'.repeat(31)}`,
          message: expect.stringMatching(/nest deeper than 32/),
        });
      }
      expect(errors.find((e) => e.field === 'params.schemaKey')!.message).toContain('surrogate');
      expect(await counts(t)).toEqual(before);
      const after = await app.call('GET', '/reports?kind=benchmark', { as: 'reader' });
      expect((await after.json()).items.length).toBe(reports); // nothing ran, nothing was stored
    });

    it('skips a pattern whose table is missing instead of failing', async () => {
      await t.admin.query('ALTER TABLE cost_tracking RENAME TO cost_tracking_elsewhere');
      try {
        const report = await bench({
          patterns: ['resource_cost_analysis', 'count_capabilities_per_protocol'],
          iterations: 2,
        });
        expect(resultOf(report, 'resource_cost_analysis')).toMatchObject({
          skipped: true,
          reason: 'table cost_tracking missing',
          p50Ms: null,
        });
        expect(resultOf(report, 'count_capabilities_per_protocol').skipped).toBe(false);
        expect(report).toMatchObject({ status: 'succeeded', summary: { measured: 1, skipped: 1 } });
      } finally {
        await t.admin.query('ALTER TABLE cost_tracking_elsewhere RENAME TO cost_tracking');
      }
    });

    it('stops, cancels its query and records why when the client goes away', async () => {
      const controller = new AbortController();
      const started = performance.now();
      const answer = app.call('POST', '/benchmark', {
        as: 'runner',
        body: { patterns: ['count_capabilities_per_protocol'], iterations: 1000, warmup: 0 },
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 300);
      const res = await answer;
      expect(performance.now() - started).toBeLessThan(10_000);
      const problem = await res.json();
      expect(problem).toMatchObject({ status: 499, title: 'Cancelled', reportId: expect.any(String) });
      const stored = await (await app.call('GET', `/reports/${problem.reportId}`, { as: 'reader' })).json();
      expect(stored).toMatchObject({ kind: 'benchmark', status: 'failed', error: { status: 499 } });
      if (t.url) {
        const { rows } = await t.admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%capability_count%' AND pid <> pg_backend_pid()`,
        );
        expect(rows[0]).toEqual({ n: 0 });
      }
    });

    // Another session holds resources locked, so the pattern's query waits inside the server:
    // only a cancel (or the statement timeout) can end it. PGlite has no second session.
    const whileLocked = async <T>(table: 'resources' | 'capabilities', work: () => Promise<T>) => {
      const holder = new pg.Client({ connectionString: t.url });
      await holder.connect();
      try {
        await holder.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
        return await work();
      } finally {
        await holder.end(); // ends the transaction, releasing the lock
      }
    };

    it.runIf(target.driver !== 'pglite')('cancels the query in flight when the client goes away', async () => {
      const controller = new AbortController();
      const started = performance.now();
      const res = await whileLocked('resources', async () => {
        const body = {
          patterns: ['list_resources_by_protocol'],
          iterations: 1,
          warmup: 0,
          statementTimeoutMs: 60_000,
        };
        const answer = app.call('POST', '/benchmark', { as: 'runner', body, signal: controller.signal });
        setTimeout(() => controller.abort(), 300);
        return answer; // resolves while the lock is still held: only the cancel can have ended the waiting query
      });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await res.json()).status).toBe(499);
    });

    it.runIf(target.driver !== 'pglite')(
      'reports a pattern that exceeds the statement timeout as failed and still runs the others',
      async () => {
        const report = await whileLocked('capabilities', () =>
          bench({
            patterns: ['count_capabilities_per_protocol', 'list_resources_by_protocol'],
            iterations: 1,
            warmup: 0,
            statementTimeoutMs: 300,
          }),
        );
        expect(resultOf(report, 'count_capabilities_per_protocol')).toMatchObject({
          skipped: false,
          error: 'a run exceeded the statement timeout of 300 ms',
          p50Ms: null,
        });
        expect(resultOf(report, 'list_resources_by_protocol').p50Ms).not.toBeNull();
        expect(report).toMatchObject({ status: 'failed', summary: { measured: 1, failed: 1 } });
      },
    );

    it('names each bad field, enforces the run scope, and checks the baseline', async () => {
      const bad = await app.call('POST', '/benchmark', {
        as: 'runner',
        body: {
          patterns: ['list_resources_by_protocol', 'drop_everything'],
          iterations: 0,
          warmup: -1,
          params: { protocol: '', limit: 5 },
          statementTimeoutMs: 1,
        },
      });
      expect(bad.status).toBe(400);
      const fields = (await bad.json()).errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'patterns.1',
          'iterations',
          'warmup',
          'params.protocol',
          'params.limit',
          'statementTimeoutMs',
        ]),
      );

      // A bounded load per request: statements in all, and each statement's time.
      const heavy = await app.call('POST', '/benchmark', {
        as: 'runner',
        body: { iterations: 1000, warmup: 100, statementTimeoutMs: 600_000 },
      });
      expect(heavy.status).toBe(400);
      expect((await heavy.json()).errors.map((e: { field: string }) => e.field)).toEqual([
        'statementTimeoutMs',
        'iterations',
      ]);
      const many = await app.call('POST', '/benchmark', { as: 'runner', body: { iterations: 1000, warmup: 100 } });
      expect(many.status).toBe(400);
      expect((await many.json()).errors).toEqual([
        expect.objectContaining({
          field: 'iterations',
          message: expect.stringMatching(/16808 statements .* at most 5000/),
        }),
      ]);

      const twice = await app.call('POST', '/benchmark', {
        as: 'runner',
        body: { patterns: ['list_resources_by_protocol', 'list_resources_by_protocol'] },
      });
      expect(twice.status).toBe(400);
      expect((await app.call('POST', '/benchmark', { as: 'reader', body: {} })).status).toBe(403);
      expect((await app.call('POST', '/benchmark', { as: null, body: {} })).status).toBe(401);

      const unknownId = { baselineReportId: '019ab8f2-6c1e-7d3a-9f21-4c8e2b7a1d05' };
      expect((await app.call('POST', '/benchmark', { as: 'runner', body: unknownId })).status).toBe(404);
      const validation = await (await app.call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } })).json();
      const wrongKind = await app.call('POST', '/benchmark', {
        as: 'runner',
        body: { baselineReportId: validation.id },
      });
      expect(wrongKind.status).toBe(400);
      expect((await wrongKind.json()).errors).toEqual([expect.objectContaining({ field: 'baselineReportId' })]);
    });
  });
}
