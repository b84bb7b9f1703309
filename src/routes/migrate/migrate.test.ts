import { describe, expect, it } from 'vitest';
import { makeTestApp } from '../../../test/support/app.js';
import { pausedBatch } from '../../../test/support/paused-batch.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from '../../../test/support/databases.js';
import { checkFidelity, resourcesMissingTools } from '../../../test/support/fidelity.js';
import { runSarkDdl } from '../../../test/support/sark-fixtures.js';
import { seedV1 } from '../../../test/support/seed.js';
import { applyServiceMigrations } from '../../db/service-migrations.js';
import { Lease } from '../../operations/lease.js';
import { migrate } from '../../operations/migrate.js';
import { newReportId } from '../../reports/ids.js';
import { detachedContext } from '../../operations/runner.js';

async function fresh<T>(target: DatabaseTarget, work: (t: TestDatabase) => Promise<T>): Promise<T> {
  const database = await target.open();
  try {
    return await work(database);
  } finally {
    await database.dispose();
  }
}

const v2Counts = async (t: TestDatabase) =>
  (
    await t.db.query<{ r: number; c: number }>(
      'SELECT (SELECT count(*)::int FROM resources) AS r, (SELECT count(*)::int FROM capabilities) AS c',
    )
  ).rows[0]!;

for (const target of databaseTargets()) {
  describe(`POST /migrate [${target.driver}]`, () => {
    it('fits its batch size to the measured time of each batch when the request names none, exact', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 40, toolsPerServer: 3, withV2: false });
        await applyServiceMigrations(t.db);
        // Batches of two servers take milliseconds, far under a target of 5 s: each next one doubles.
        const grown = await migrate(
          t.db,
          { dryRun: false, parallelism: 1, sizing: { first: 2, targetMs: 5_000, min: 1, max: 64 } },
          detachedContext(),
        );
        expect(grown.batches).toMatchObject({
          size: 2,
          sizing: { mode: 'adaptive', targetMs: 5_000, first: 2, smallest: 2, largest: 32 },
          planned: 5, // 2 + 4 + 8 + 16 + the last 10 (of a batch of 32)
          committed: 5,
        });
        expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });

        // Every batch now takes 300 ms more, three times a target of 100 ms: the sizes shrink.
        await t.db.query('TRUNCATE resources CASCADE');
        await t.db.query(
          `CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
        );
        await t.db.query(
          'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
        );
        const shrunk = await migrate(
          t.db,
          { dryRun: false, parallelism: 1, sizing: { first: 16, targetMs: 100, min: 4, max: 64 } },
          detachedContext(),
        );
        expect(shrunk.batches).toMatchObject({
          sizing: { mode: 'adaptive', first: 16, smallest: 4, largest: 16, last: 4 },
        });
        expect(shrunk.batches.committed).toBe(shrunk.batches.planned);
        expect(shrunk.tables.resources.copied).toBe(40);
        expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });
      }));

    for (const shape of ['orm', 'migration'] as const) {
      it(`migrates the ${shape} shape with every mapped field equal, then a second run copies nothing`, () =>
        fresh(target, async (t) => {
          await seedV1(t.db, { shape, servers: 40, toolsPerServer: 3, withV2: false });
          const { call } = await makeTestApp(t.db);
          const res = await call('POST', '/migrate', { as: 'applier', body: { dryRun: false, batchSize: 7 } });
          expect(res.status).toBe(200);
          const report = await res.json();
          expect(report).toMatchObject({
            kind: 'migration',
            status: 'succeeded',
            actor: 'applier',
            dryRun: false,
            v1Shape: shape,
            schema: {
              migrations: [{ tag: '0000_v2_tables', outcome: 'applied' }],
            },
            tables: {
              resources: { planned: 40, copied: 40, alreadyPresent: 0, skipped: { count: 0 } },
              capabilities: { planned: 120, copied: 120, alreadyPresent: 0, skipped: { count: 0 } },
            },
            batches: { size: 7, planned: 6, committed: 6, retries: 0 },
          });
          expect(await checkFidelity(t.db, shape)).toEqual({
            serverMismatches: [],
            toolMismatches: [],
            resources: 40,
            capabilities: 120,
          });
          // The run analyzed what it copied: the planner knows the row counts.
          const stats = await t.db.query(
            `SELECT relname, reltuples::int AS rows FROM pg_class WHERE relname IN ('resources', 'capabilities') ORDER BY relname`,
          );
          expect(stats.rows).toEqual([
            { relname: 'capabilities', rows: 120 },
            { relname: 'resources', rows: 40 },
          ]);

          const again = await (await call('POST', '/migrate', { as: 'applier', body: { dryRun: false } })).json();
          expect(again.tables.resources).toMatchObject({ copied: 0, alreadyPresent: 40 });
          expect(again.tables.capabilities).toMatchObject({ copied: 0, alreadyPresent: 120 });
          expect(again.summary.message).toMatch(/^Copied 0 servers and 0 tools; 160 rows already in v2/);
          expect(await v2Counts(t)).toEqual({ r: 40, c: 120 });
        }));
    }

    it('plans a dry run (the default) that changes nothing, not even the v2 schema', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 10, toolsPerServer: 2, withV2: false });
        await t.db.query(`UPDATE mcp_servers SET command = NULL, endpoint = NULL WHERE name = 'server-3'`);
        const { call } = await makeTestApp(t.db);
        const res = await call('POST', '/migrate', { as: 'runner' });
        expect(res.status).toBe(200);
        const report = await res.json();
        expect(report).toMatchObject({
          dryRun: true,
          schema: {
            migrations: [{ tag: '0000_v2_tables', outcome: 'would-apply' }],
          },
          tables: {
            resources: { planned: 10, toCopy: 9, copied: 0, skipped: { count: 1, truncated: false } },
            capabilities: { planned: 20, toCopy: 18, copied: 0, skipped: { count: 2 } },
          },
        });
        expect(report.tables.resources.skipped.rows[0].reason).toMatch(/neither command nor endpoint/);
        const { rows } = await t.db.query<{ present: boolean }>(
          `SELECT to_regclass('resources') IS NOT NULL AS present`,
        );
        expect(rows[0]!.present).toBe(false); // the service's own schema, sark_migrate, is made at its start instead
      }));

    it('plans a dry run on a partly migrated database: what is present, what is left', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 12, toolsPerServer: 2 });
        const { call } = await makeTestApp(t.db);
        const firstFive = (
          await t.db.query<{ id: string }>('SELECT id::text FROM mcp_servers ORDER BY id LIMIT 5')
        ).rows.map((r) => r.id);
        await call('POST', '/migrate', { body: { dryRun: false, serverIds: firstFive } });
        const before = await v2Counts(t);
        const report = await (await call('POST', '/migrate', { as: 'runner' })).json();
        expect(report.tables).toMatchObject({
          resources: { planned: 12, alreadyPresent: 5, toCopy: 7, copied: 0 },
          capabilities: { planned: 24, alreadyPresent: 10, toCopy: 14, copied: 0 },
        });
        expect(report.schema.migrations).toEqual([{ tag: '0000_v2_tables', outcome: 'already-applied' }]);
        expect(await v2Counts(t)).toEqual(before);
      }));

    it('runs a plan by its planId only while the database still matches it: 409 stale-plan otherwise', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 6, toolsPerServer: 2, withV2: false });
        const { call } = await makeTestApp(t.db);
        const plan = async (body: object = {}) =>
          (await (await call('POST', '/migrate', { as: 'runner', body })).json()).planId;
        const planned = await plan();
        expect(planned).toMatch(/^[0-9a-f]{32}$/);
        expect(await plan()).toBe(planned); // nothing changed, nothing to tell apart
        const ids = (await t.db.query<{ id: string }>('SELECT id::text FROM mcp_servers ORDER BY id LIMIT 2')).rows;
        expect(await plan({ serverIds: ids.map((r) => r.id) })).not.toBe(planned);

        // A v1 field changes after the review: the run refuses, and copies nothing.
        await t.db.query(
          `UPDATE mcp_tools SET description = 'changed' WHERE id = (SELECT id FROM mcp_tools ORDER BY id LIMIT 1)`,
        );
        const stale = await call('POST', '/migrate', { body: { dryRun: false, planId: planned } });
        expect(stale.status).toBe(409);
        const problem = await stale.json();
        expect(problem).toMatchObject({ type: 'urn:sark-migrate:problem:stale-plan', planId: planned });
        expect(problem.currentPlanId).toBe(await plan());
        const { rows } = await t.db.query<{ present: boolean }>(
          `SELECT to_regclass('resources') IS NOT NULL AS present`,
        );
        expect(rows[0]!.present).toBe(false);

        const fresh = await plan();
        const run = await call('POST', '/migrate', { body: { dryRun: false, planId: fresh } });
        expect(run.status).toBe(200);
        expect(await run.json()).toMatchObject({ dryRun: false, planId: fresh, tables: { resources: { copied: 6 } } });
        // Copied rows are part of the plan: the same planId cannot run twice.
        expect((await call('POST', '/migrate', { body: { dryRun: false, planId: fresh } })).status).toBe(409);
        expect((await (await call('POST', '/migrate', { body: { dryRun: false } })).json()).planId).toBeNull();
      }));

    it('skips a server with neither command nor endpoint, and its tools, naming their ids', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 6, toolsPerServer: 2 });
        const broken = (
          await t.db.query<{ id: string }>(
            `UPDATE mcp_servers SET command = NULL, endpoint = NULL WHERE name = 'server-2' RETURNING id::text`,
          )
        ).rows[0]!.id;
        const toolIds = (
          await t.db.query<{ id: string }>('SELECT id::text FROM mcp_tools WHERE server_id = $1 ORDER BY id', [broken])
        ).rows.map((r) => r.id);
        const { call } = await makeTestApp(t.db);
        const report = await (await call('POST', '/migrate', { body: { dryRun: false } })).json();
        expect(report.tables.resources).toMatchObject({ copied: 5, skipped: { count: 1, rows: [{ id: broken }] } });
        expect(report.tables.capabilities.skipped.rows.map((r: { id: string }) => r.id)).toEqual(toolIds);
        expect(report.tables.capabilities.copied).toBe(10);
        expect(await v2Counts(t)).toEqual({ r: 5, c: 10 });
      }));

    it('migrates only the servers asked for, with their tools, and names unknown ids', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 8, toolsPerServer: 3 });
        const ids = (
          await t.db.query<{ id: string }>(
            `SELECT id::text FROM mcp_servers WHERE name IN ('server-1', 'server-5') ORDER BY id`,
          )
        ).rows.map((r) => r.id);
        const unknown = '00000000-0000-0000-0000-000000000000';
        const { call } = await makeTestApp(t.db);
        const report = await (
          await call('POST', '/migrate', { body: { dryRun: false, serverIds: [...ids, unknown] } })
        ).json();
        expect(report.unknownServerIds).toEqual([unknown]);
        expect(report.tables.resources).toMatchObject({ planned: 2, copied: 2 });
        expect(report.tables.capabilities).toMatchObject({ planned: 6, copied: 6 });
        const { rows } = await t.db.query<{ id: string }>('SELECT id FROM resources ORDER BY id');
        expect(rows.map((r) => r.id)).toEqual(ids);
        expect(await resourcesMissingTools(t.db)).toBe(0);
      }));

    it('adopts v2 tables SARK already created and copies into them', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 5, toolsPerServer: 2, withV2: false });
        await runSarkDdl(t.db, 'v2_schema.sql');
        await t.db.query(
          `INSERT INTO resources (id, name, protocol, endpoint) VALUES ('http-1', 'an http api', 'http', 'https://api')`,
        );
        const { call } = await makeTestApp(t.db);
        const report = await (await call('POST', '/migrate', { body: { dryRun: false } })).json();
        expect(report.schema.migrations).toEqual([{ tag: '0000_v2_tables', outcome: 'adopted' }]);
        expect(await checkFidelity(t.db, 'orm')).toMatchObject({
          serverMismatches: [],
          toolMismatches: [],
          resources: 6,
          capabilities: 10,
        });
      }));

    it('answers 422 naming the missing column when v1 has an unknown shape, changing nothing', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 2, toolsPerServer: 1, withV2: false });
        await t.db.query('ALTER TABLE mcp_tools RENAME COLUMN parameters TO params');
        const { call } = await makeTestApp(t.db);
        const res = await call('POST', '/migrate', { body: { dryRun: false } });
        expect(res.status).toBe(422);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(await res.json()).toMatchObject({
          status: 422,
          missing: ['mcp_tools.parameters (or parameters_schema)'],
        });
        const { rows } = await t.db.query<{ present: boolean }>(
          `SELECT to_regclass('resources') IS NOT NULL AS present`,
        );
        expect(rows[0]!.present).toBe(false);
      }));

    it('answers 409 naming the run that holds the lease, also when asked async; a dry run still plans', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 4, toolsPerServer: 1 });
        const { call } = await makeTestApp(t.db);
        await applyServiceMigrations(t.db);
        const other = newReportId(Date.now());
        const lease = await Lease.take(t.db, other, 'rollback');
        try {
          const sync = await call('POST', '/migrate', { body: { dryRun: false } });
          expect(sync.status).toBe(409);
          expect(sync.headers.get('content-type')).toBe('application/problem+json');
          expect(await sync.json()).toMatchObject({ holder: other, holderKind: 'rollback' });
          const async = await call('POST', '/migrate', {
            body: { dryRun: false },
            headers: { Prefer: 'respond-async' },
          });
          expect(async.status).toBe(409);
          expect((await call('POST', '/migrate', { as: 'runner' })).status).toBe(200);
        } finally {
          await lease.release();
        }
        expect(await v2Counts(t)).toEqual({ r: 0, c: 0 });
        const { items } = await (await call('GET', '/reports', { as: 'reader' })).json();
        expect(items.map((i: { status: string }) => i.status)).toEqual(['succeeded']); // the dry run's; the refused runs left none
        expect((await call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200); // released: free again
      }));

    it('runs one of two concurrent migrations and answers 409 to the other, never duplicating', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 30, toolsPerServer: 3 });
        const { call } = await makeTestApp(t.db);
        const [a, b] = await Promise.all([
          call('POST', '/migrate', { body: { dryRun: false, batchSize: 3 } }),
          call('POST', '/migrate', { body: { dryRun: false, batchSize: 3 } }),
        ]);
        const statuses = [a.status, b.status].sort();
        expect(statuses[0]).toBe(200);
        expect([200, 409]).toContain(statuses[1]); // 200 twice means they did not overlap at all
        const loser = a.status === 409 ? a : b.status === 409 ? b : undefined;
        if (loser)
          expect(await loser.json()).toMatchObject({
            status: 409,
            type: 'urn:sark-migrate:problem:operation-in-progress',
          });
        expect(await checkFidelity(t.db, 'orm')).toEqual({
          serverMismatches: [],
          toolMismatches: [],
          resources: 30,
          capabilities: 90,
        });
      }));

    it('answers 202 with Location to Prefer: respond-async, shows progress, then the final report', () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 20, toolsPerServer: 2 });
        const app = await makeTestApp(t.db);
        const res = await app.call('POST', '/migrate', {
          body: { dryRun: false, batchSize: 2 },
          headers: { Prefer: 'respond-async, wait=0' },
        });
        expect(res.status).toBe(202);
        expect(res.headers.get('preference-applied')).toBe('respond-async');
        const location = res.headers.get('location')!;
        const accepted = await res.json();
        expect(location).toBe(`/reports/${accepted.id}`);
        expect(accepted).toMatchObject({ status: 'running', finishedAt: null, progress: { done: expect.any(Number) } });
        // Location points at a stored report from the first moment.
        const running = await app.call('GET', location, { as: 'reader' });
        expect(running.status).toBe(200);
        expect((await running.json()).id).toBe(accepted.id);
        await app.settle();
        const final = await (await app.call('GET', location, { as: 'reader' })).json();
        expect(final).toMatchObject({
          status: 'succeeded',
          progress: { done: 10, total: 10 },
          tables: { resources: { copied: 20 } },
        });
        expect(final.durationMs).toBeGreaterThanOrEqual(0);
      }));
  });
}

describe.runIf(process.env.TEST_DATABASE_URL)('a migration whose connections are killed mid-run', () => {
  for (const target of databaseTargets().filter((t) => t.driver !== 'pglite')) {
    it(`leaves only whole batches, and a re-run completes [${target.driver}]`, () =>
      fresh(target, async (t) => {
        await seedV1(t.db, { servers: 60, toolsPerServer: 4 });
        // Once 3 batches of 4 servers have committed, every further batch stops at its insert of
        // resources, so the kill finds the migration part-way, however fast this machine is.
        const race = await pausedBatch(t, 'AFTER INSERT ON resources', '(SELECT count(*) FROM resources) > 12');
        let failure: unknown;
        try {
          const running = migrate(t.db, { dryRun: false, batchSize: 4, parallelism: 2 }, detachedContext()).catch(
            (e: unknown) => e,
          );
          await race.paused();
          // Every other connection to this database, the service's locked session included; each
          // termination waited for (up to 10 s), not only signalled.
          await race.writer.query(
            `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> ALL($1::int[])`,
            [race.pids],
          );
          failure = await running;
        } finally {
          await race.close();
        }
        // The pools drop their idle connections to killed backends as the sockets' closes arrive:
        // give those events their turn before the checks below take a connection from a pool.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await t.db.query('DROP TRIGGER pause ON resources');
        expect(failure).toMatchObject({ kind: 'database-unavailable' });
        const partial = await v2Counts(t);
        expect(partial.r).toBeGreaterThan(0);
        expect(partial.r).toBeLessThan(60);
        expect(await resourcesMissingTools(t.admin)).toBe(0);

        const rerun = await migrate(t.db, { dryRun: false, batchSize: 4, parallelism: 2 }, detachedContext());
        expect(rerun).toMatchObject({
          tables: { resources: { copied: 60 - partial.r, alreadyPresent: partial.r } },
        });
        expect(await checkFidelity(t.db, 'orm')).toEqual({
          serverMismatches: [],
          toolMismatches: [],
          resources: 60,
          capabilities: 240,
        });
      }));
  }
});

describe('POST /migrate input and scopes', () => {
  const target = databaseTargets()[0]!;

  it('rejects malformed JSON, unknown and invalid fields with each field named, changing nothing', () =>
    fresh(target, async (t) => {
      await seedV1(t.db, { servers: 2, toolsPerServer: 1, withV2: false });
      const { call } = await makeTestApp(t.db);
      const malformed = await call('POST', '/migrate', { rawBody: '{"dryRun": fals' });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toBe('application/problem+json');
      expect((await malformed.json()).errors).toEqual([expect.objectContaining({ field: '(body)', in: 'body' })]);

      const invalid = await call('POST', '/migrate', {
        body: { dryRun: 'no', batchSize: 0, serverIds: ['not-a-uuid'], dryrun: false },
      });
      expect(invalid.status).toBe(400);
      const fields = (await invalid.json()).errors.map((e: { field: string }) => e.field).sort();
      expect(fields).toEqual(['batchSize', 'dryRun', 'dryrun', 'serverIds.0']);

      const wrongType = await call('POST', '/migrate', {
        rawBody: 'dryRun=false',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expect(wrongType.status).toBe(415);
      expect(wrongType.headers.get('content-type')).toBe('application/problem+json');

      const { rows } = await t.db.query<{ present: boolean }>(`SELECT to_regclass('resources') IS NOT NULL AS present`);
      expect(rows[0]!.present).toBe(false);
    }));

  it('needs run for a dry run and apply for a real one', () =>
    fresh(target, async (t) => {
      await seedV1(t.db, { servers: 2, toolsPerServer: 1, withV2: false });
      const { call } = await makeTestApp(t.db);
      expect((await call('POST', '/migrate', { as: 'reader' })).status).toBe(403);
      expect((await call('POST', '/migrate', { as: null })).status).toBe(401);
      expect((await call('POST', '/migrate', { as: 'runner' })).status).toBe(200);
      expect((await call('POST', '/migrate', { as: 'applier' })).status).toBe(200);
      const refused = await call('POST', '/migrate', { as: 'runner', body: { dryRun: false } });
      expect(refused.status).toBe(403);
      expect((await refused.json()).detail).toContain('"apply"');
      const { rows } = await t.db.query<{ present: boolean }>(`SELECT to_regclass('resources') IS NOT NULL AS present`);
      expect(rows[0]!.present).toBe(false);
    }));
});
