import {
  createExecutionContext,
  createScheduledController,
  env,
  introspectWorkflow,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createNeonDatabase } from '../../src/adapters/db/neon.js';
import type { Database } from '../../src/adapters/db/types.js';
import { Lease } from '../../src/operations/lease.js';
import { newReportId } from '../../src/reports/ids.js';
import worker from '../../src/entry.worker.js';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import type { ReportId } from '../../src/reports/ids.js';
import type { Report } from '../../src/reports/schemas.js';
import { createReportStore } from '../../src/reports/store.js';
import { fetchWorker, untilDone, untilEnded, workerBindings } from './harness.js';

const provided = inject('sarkWorkers');
const { adminToken, readToken } = provided;

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetchWorker(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json', ...headers },
  });

// Every operation on the Worker runs as a RunWorkflow instance whose id is the report id, each
// batch a step; a step that fails is retried by the Workflow, and the data stay exact.
describe('operations as Workflows on the Worker', () => {
  let db: Database;
  beforeAll(() => {
    db = createNeonDatabase({ connectionString: provided.databaseUrl, wsProxy: provided.wsProxy });
  });
  afterAll(() => db.close());

  const counts = async () =>
    (
      await db.query<{ r: number; c: number }>(
        'SELECT (SELECT count(*)::int FROM resources) AS r, (SELECT count(*)::int FROM capabilities) AS c',
      )
    ).rows[0]!;

  /** A rollback run's body: on the plan of a dry run made just before it, as a user runs one. */
  const planned = async (body: Record<string, unknown> = {}) => {
    const plan = (await (await post('/rollback', { ...body, dryRun: true })).json()) as { planId: string };
    return { ...body, dryRun: false, planId: plan.planId };
  };

  /** Runs an operation with respond-async through the Workflow, `failing` steps failing once first. */
  async function throughWorkflow(path: string, body: unknown, failing: string[]) {
    await using workflows = await introspectWorkflow(env.RUNS);
    await workflows.modifyAll(async (m) => {
      await m.disableRetryDelays();
      for (const name of failing) await m.mockStepError({ name }, new Error('the connection was lost'), 1);
    });
    const accepted = await post(path, body, { Prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    const [instance] = workflows.get();
    await instance!.waitForStatus('complete');
    expect((await (await env.RUNS.get(id)).status()).status).toBe('complete'); // the instance is the report's
    return untilEnded(`/reports/${id}`, readToken);
  }

  it('rolls back and migrates in several batches, each a step, exact after a step failed once and was retried', async () => {
    const rolledBack = await throughWorkflow('/rollback', await planned({ batchSize: 5 }), ['range 1', 'batch 1']);
    expect(rolledBack).toMatchObject({ status: 'succeeded', dryRun: false });
    expect(await counts()).toEqual({ r: 0, c: 0 });

    const migrated = await throughWorkflow('/migrate', { dryRun: false, batchSize: 3, parallelism: 1 }, [
      'batch 2',
      'range 4',
    ]);
    expect(migrated).toMatchObject({
      status: 'succeeded',
      batches: { committed: 7, planned: 7, sizing: { mode: 'fixed', first: 3, last: 3 } },
      tables: { resources: { copied: 20 }, capabilities: { copied: 60 } },
      progress: { done: 7, total: 7 },
    });
    expect(await counts()).toEqual({ r: 20, c: 60 });
    // The lease was released and the run recorded as ended, its steps forgotten.
    const { rows } = await db.query<{ holder: string | null; status: string; steps: number }>(
      `SELECT (SELECT holder FROM sark_migrate.lease) AS holder,
              (SELECT status FROM sark_migrate.runs WHERE id = $1) AS status,
              (SELECT count(*)::int FROM sark_migrate.run_steps WHERE run_id = $1) AS steps`,
      [migrated.id],
    );
    expect(rows[0]).toEqual({ holder: null, status: 'succeeded', steps: 0 });
  });

  it('exports the rollback archive to R2 in Workflow steps (one failing once), and restores from it through a Workflow', async () => {
    const before = await counts();
    const rolledBack = await throughWorkflow('/rollback', await planned(), ['export capabilities']);
    expect(rolledBack).toMatchObject({ status: 'succeeded', archive: { exportStatus: 'exported' } });
    expect(await counts()).toEqual({ r: 0, c: 0 });
    const exports = (
      rolledBack.archive as { exports: { table: string; key: string; rows: number; bytes: number; sha256: string }[] }
    ).exports;
    expect(exports.map((e) => [e.table, e.rows])).toEqual([
      ['resources', before.r],
      ['capabilities', before.c],
    ]);
    for (const e of exports) {
      const object = await env.REPORTS.get(e.key);
      expect(object?.size).toBe(e.bytes);
      const ndjson = await new Response(object!.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', ndjson));
      expect(Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')).toBe(e.sha256);
      expect(new TextDecoder().decode(ndjson).split('\n')).toHaveLength(e.rows + 1);
    }
    // The archive tables no longer hold the run's rows: the restore reads the R2 objects.
    await db.query('DELETE FROM sark_migrate.archived_capability_packs WHERE rollback_id = $1', [rolledBack.id]);
    await db.query('DELETE FROM sark_migrate.archived_resource_packs WHERE rollback_id = $1', [rolledBack.id]);
    const restored = await throughWorkflow('/restore', { rollbackReportId: rolledBack.id, dryRun: false }, []);
    expect(restored).toMatchObject({
      status: 'succeeded',
      source: 'exports',
      summary: { restored: before.r + before.c },
    });
    expect(await counts()).toEqual(before);
  });

  it('answers a synchronous request with the final report when the Workflow ends within the budget', async () => {
    const response = await post('/validate', { mode: 'schema' });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { id: string; status: string };
    expect(report.status).toBe('passed');
    // The Workflow may still post its notifications after the final report is stored.
    const instance = await env.RUNS.get(report.id);
    await expect.poll(async () => (await instance.status()).status, { timeout: 10_000 }).toBe('complete');
  });

  it('answers a refusal before the run started (a stale plan) as the request’s own problem, leaving no report', async () => {
    const response = await post('/rollback', { dryRun: false, planId: 'a'.repeat(32) });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ type: 'urn:sark-migrate:problem:stale-plan' });
  });

  it('answers 409 naming the run that holds the lease, refused before the Workflow started any work', async () => {
    const holder = newReportId(Date.now());
    const lease = await Lease.take(db, holder, 'rollback');
    try {
      const refused = await post('/migrate', { dryRun: false });
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({
        type: 'urn:sark-migrate:problem:operation-in-progress',
        holder,
        holderKind: 'rollback',
      });
    } finally {
      await lease.release();
    }
  });

  it('cancels a running Workflow at a batch boundary: the report ends cancelled with exactly what committed', async () => {
    await throughWorkflow('/rollback', await planned(), []);
    // Every insert into resources takes 200 ms more: twenty one-server batches take seconds.
    await db.query(
      `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$`,
    );
    await db.query(
      'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
    );
    try {
      const accepted = await post(
        '/migrate',
        { dryRun: false, batchSize: 1, parallelism: 1 },
        { Prefer: 'respond-async' },
      );
      expect(accepted.status).toBe(202);
      const { id } = (await accepted.json()) as { id: string };
      await untilDone(`/reports/${id}`, readToken, 2);
      expect((await post(`/reports/${id}/cancel`, undefined)).status).toBe(202);
      const report = (await untilEnded(`/reports/${id}`, readToken)) as {
        status: string;
        batches: { committed: number };
      };
      expect(report.status).toBe('cancelled');
      expect(report.batches.committed).toBeLessThan(20);
      expect(await counts()).toEqual({ r: report.batches.committed, c: report.batches.committed * 3 });
    } finally {
      await db.query('DROP TRIGGER slow_batch ON resources');
    }
    // The lease was released: a new run finishes the job.
    const again = await post('/migrate', { dryRun: false });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ batches: { sizing: { mode: 'adaptive', targetMs: 1_000 } } });
    expect(await counts()).toEqual({ r: 20, c: 60 });
  });
  it('validates group by group, each group a step with a snapshot of its own, exact after a step failed once', async () => {
    const report = (await throughWorkflow('/validate', { mode: 'full' }, ['checks data'])) as {
      status: string;
      snapshots: string;
      checks: { name: string; passed: boolean }[];
      summary: { passed: number; failed: number; skipped: number };
      progress: { done: number; total: number };
    };
    expect(report).toMatchObject({ status: 'passed', snapshots: 'per-group', summary: { failed: 0 } });
    const groups = report.checks.map((c) => c.name.split('.')[0]);
    // Each group's checks once, in order: a retried step does not add its checks twice.
    expect([...new Set(groups)]).toEqual(['schema', 'data', 'relationships', 'business']);
    expect(new Set(report.checks.map((c) => c.name)).size).toBe(report.checks.length);
    expect(report.progress).toMatchObject({ done: report.checks.length, total: report.checks.length });
  });

  it('benchmarks pattern by pattern, each a step, measured after a step failed once', async () => {
    const patterns = ['list_resources_by_protocol', 'high_sensitivity_capabilities'];
    const report = (await throughWorkflow('/benchmark', { patterns, iterations: 3, warmup: 1 }, [
      `pattern ${patterns[0]}`,
    ])) as { status: string; results: { pattern: string; p50Ms: number | null; iterations: number }[] };
    expect(report.status).toBe('succeeded');
    expect(report.results.map((r) => r.pattern)).toEqual(patterns);
    for (const r of report.results) expect(r.p50Ms).toEqual(expect.any(Number));
  });

  it('takes over a lease whose holder stopped renewing it, and the report says whose', async () => {
    const dead = newReportId(Date.now());
    await Lease.take(db, dead, 'migration', 1); // its holder died: the lease expires at once
    await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await throughWorkflow('/rollback', await planned(), []);
    expect(report).toMatchObject({ status: 'succeeded', takenOverFrom: dead });
    expect(await counts()).toEqual({ r: 0, c: 0 });
  });

  it('fences a run whose lease was taken over: its next batch is refused, not retried, and nothing more is written', async () => {
    await db.query(
      `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$`,
    );
    await db.query(
      'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
    );
    const thief = newReportId(Date.now() + 1);
    try {
      const accepted = await post(
        '/migrate',
        { dryRun: false, batchSize: 1, parallelism: 1 },
        { Prefer: 'respond-async' },
      );
      const { id } = (await accepted.json()) as { id: string };
      await untilDone(`/reports/${id}`, readToken, 2);
      // Another run takes the lease (as after an expiry): the update waits for the batch being written.
      await db.query(
        `UPDATE sark_migrate.lease SET holder = $1, kind = 'migration', expires_at = clock_timestamp() + interval '1 hour' WHERE id = 1`,
        [thief],
      );
      const written = await counts();
      // Ends within untilEnded's 20 s: a refused step is an answer, not retried with backoff.
      const report = (await untilEnded(`/reports/${id}`, readToken)) as {
        status: string;
        error: { title: string; detail: string };
        batches: { committed: number };
      };
      expect(report.status).toBe('failed');
      expect(report.error.detail).toContain('no longer holds the database');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await counts()).toEqual(written);
      expect(written.r).toBe(report.batches.committed);
      const [lease] = (await db.query<{ holder: string }>('SELECT holder FROM sark_migrate.lease')).rows;
      expect(lease!.holder).toBe(thief); // the fenced run did not release what it no longer held
    } finally {
      await db.query('UPDATE sark_migrate.lease SET holder = NULL, kind = NULL, expires_at = NULL WHERE holder = $1', [
        thief,
      ]);
      await db.query('DROP TRIGGER slow_batch ON resources');
    }
    expect((await post('/migrate', { dryRun: false })).status).toBe(200);
    expect(await counts()).toEqual({ r: 20, c: 60 });
  });
  // On PostgreSQL only: PGlite behind its socket server answers every connection from one backend,
  // and this test's queries, the run's heartbeats and the sweep's overlap (answers were seen crossed).
  it.runIf(provided.realPostgres)(
    'ends abandoned, on the cron trigger, a silent run whose Workflow instance is over, and leaves one the engine still runs',
    async () => {
      const store = createReportStore(r2ObjectStore(env.REPORTS));
      // A run the engine is still running, silent in the ledger and its lease expired for a moment.
      await throughWorkflow('/rollback', await planned(), []);
      await db.query(
        `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
      );
      await db.query(
        'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
      );
      try {
        const accepted = await post(
          '/migrate',
          { dryRun: false, batchSize: 1, parallelism: 1 }, // twenty batches of 0.3 s at least
          { Prefer: 'respond-async' },
        );
        const { id: live } = (await accepted.json()) as { id: string };
        await untilDone(`/reports/${live}`, readToken, 1);
        // A run whose instance ended without ending its report (as if its isolate died at the last moment).
        const over = (await (await post('/validate', { mode: 'schema' })).json()) as Report;
        // The answer came with the stored report; the instance ends a moment later.
        const instance = await env.RUNS.get(over.id);
        for (const deadline = Date.now() + 10_000; (await instance.status()).status !== 'complete';) {
          if (Date.now() > deadline) throw new Error(`instance ${over.id} did not complete`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await store.put({ ...over, status: 'running', finishedAt: null, durationMs: null });
        await db.query(
          `UPDATE sark_migrate.runs SET status = 'running', heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
          [over.id],
        );

        await db.query(`UPDATE sark_migrate.runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [live]);
        await db.query(`UPDATE sark_migrate.lease SET expires_at = now() - interval '1 second' WHERE holder = $1`, [
          live,
        ]);

        const controller = createScheduledController({ cron: '* * * * *' });
        const ctx = createExecutionContext();
        worker.scheduled(controller, workerBindings(), ctx);
        await waitOnExecutionContext(ctx);

        expect(await store.get(over.id as ReportId)).toMatchObject({ status: 'abandoned' });
        const ledger = await db.query<{ id: string; status: string }>(
          'SELECT id, status FROM sark_migrate.runs WHERE id = ANY($1::text[]) ORDER BY id',
          [[over.id, live]],
        );
        expect(ledger.rows).toEqual([
          { id: live, status: 'running' },
          { id: over.id, status: 'abandoned' },
        ]);
        expect(await untilEnded(`/reports/${live}`, readToken)).toMatchObject({ status: 'succeeded' });
      } finally {
        await db.query('DROP TRIGGER slow_batch ON resources');
      }
      expect(await counts()).toEqual({ r: 20, c: 60 });
    },
  );
});
