import { env } from 'cloudflare:test';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createNeonDatabase } from '../../src/adapters/db/neon.js';
import type { Database } from '../../src/adapters/db/types.js';
import type { R2BucketLike } from '../../src/adapters/storage/r2.js';
import { fetchWorker, workerBindings } from './harness.js';

/**
 * An R2 binding that throws (the issue: "the caller gets a clear error, the database work is
 * not lost, the next run reports it"). The local R2 simulator cannot be made to fail, so its
 * put is made to throw: on a wrapper binding handed to the request, and, for the Workflow (which
 * reads its own bindings, not the request's), on the R2 binding's prototype for the test's span.
 */
const provided = inject('sarkWorkers');
const R2_DOWN = 'We encountered an internal error. Please try again. (10001)';

const post = (path: string, body: unknown, bindings = workerBindings()) =>
  fetchWorker(
    path,
    {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { Authorization: `Bearer ${provided.adminToken}`, 'Content-Type': 'application/json' },
    },
    bindings,
  );

/** The real local bucket, its put refused: reads still work, as when R2 refuses writes. */
function throwingPut(bucket: R2BucketLike): R2BucketLike {
  return {
    put: () => Promise.reject(new Error(R2_DOWN)),
    get: (key) => bucket.get(key),
    list: (options) => bucket.list(options),
    createMultipartUpload: () => Promise.reject(new Error(R2_DOWN)),
  };
}

/** Every R2 binding of this isolate (the Workflow's too) refuses puts until the returned function is called. */
function r2RefusesPuts(): () => void {
  const prototype = Object.getPrototypeOf(env.REPORTS) as { put: unknown };
  const put = prototype.put;
  prototype.put = () => Promise.reject(new Error(R2_DOWN));
  return () => void (prototype.put = put);
}

async function expectStoreProblem(response: Response) {
  const text = await response.text();
  // Soft: the checks after it (the database, the next run) still run and show what holds today.
  expect
    .soft(
      { status: response.status, contentType: response.headers.get('Content-Type') },
      `the caller should get a clear error, not: ${response.status} ${text.slice(0, 300)}`,
    )
    .toEqual({ status: 503, contentType: 'application/problem+json' });
  const problem = JSON.parse(text) as Record<string, unknown>;
  // It says what failed, the report and not the database, and names the run it was for.
  expect
    .soft(problem)
    .toMatchObject({ type: 'urn:sark-migrate:problem:store-unavailable', reportId: expect.any(String) });
  expect.soft(problem.detail).toMatch(/report/i);
}

describe('an R2 binding that throws on the Worker', () => {
  let db: Database;
  beforeAll(() => {
    db = createNeonDatabase({ connectionString: provided.databaseUrl, wsProxy: provided.wsProxy });
  });
  afterAll(() => db.close());

  const state = async () =>
    (
      await db.query<{ r: number; c: number; holder: string | null }>(
        'SELECT (SELECT count(*)::int FROM resources) AS r, (SELECT count(*)::int FROM capabilities) AS c, (SELECT holder FROM sark_migrate.lease) AS holder',
      )
    ).rows[0]!;

  beforeEach(async () => {
    // From v1 only, so the migration's work can be seen (the suite's files share one database).
    const { planId } = (await (await post('/rollback', { dryRun: true })).json()) as { planId: string };
    expect((await post('/rollback', { dryRun: false, planId })).status).toBe(200);
    expect(await state()).toEqual({ r: 0, c: 0, holder: null });
  });

  /** With R2 working again, the next run reports what the failed one did, and its own report is stored. */
  async function expectNextRunReports() {
    const response = await post('/migrate', { dryRun: false });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { id: string };
    expect(report).toMatchObject({ status: 'succeeded', tables: { resources: { alreadyPresent: 20, copied: 0 } } });
    const stored = await fetchWorker(`/reports/${report.id}`, {
      headers: { Authorization: `Bearer ${provided.readToken}` },
    });
    expect(stored.status).toBe(200);
  }

  it('run in the request (no Workflow): 503 naming the report, the migration stays, the next run reports it', async () => {
    const response = await post(
      '/migrate',
      { dryRun: false },
      workerBindings({ REPORTS: throwingPut(env.REPORTS), RUNS: undefined }),
    );
    await expectStoreProblem(response);
    expect(await state()).toEqual({ r: 20, c: 60, holder: null });
    await expectNextRunReports();
  });

  it('run as a Workflow: 503 naming the report, the migration stays, the next run reports it', async () => {
    const restore = r2RefusesPuts();
    let response: Response;
    const started = Date.now();
    try {
      response = await post('/migrate', { dryRun: false });
    } finally {
      restore();
    }
    expect
      .soft(Date.now() - started, 'the answer should not wait for a report that will never come')
      .toBeLessThan(20_000);
    await expectStoreProblem(response);
    expect(await state()).toEqual({ r: 20, c: 60, holder: null });
    await expectNextRunReports();
  }, 90_000);
});
