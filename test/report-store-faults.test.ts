import { describe, expect, it } from 'vitest';
import { fsObjectStore } from '../src/adapters/storage/fs.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from './support/databases.js';
import { leaseState } from './support/fault-checks.js';
import { failingFolder, type FailingFolder } from './support/failing-folder.js';
import { checkFidelity, resourcesMissingTools } from './support/fidelity.js';
import { seedV1 } from './support/seed.js';

/**
 * A report store that fails (the issue: "the caller gets a clear error, the database work is
 * not lost, the next run reports it"), with real file-system errors: a folder that refuses
 * writes for a while. PGlite always, PostgreSQL through pg with TEST_DATABASE_URL.
 */
const SERVERS = 60;
const TOOLS = 3;

async function withDatabase(target: DatabaseTarget, work: (t: TestDatabase) => Promise<void>) {
  const t = await target.open();
  try {
    await work(t);
  } finally {
    await t.dispose();
  }
}

async function until(holds: () => Promise<boolean>, what: string) {
  for (const deadline = Date.now() + 20_000; !(await holds()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

const resources = async (t: TestDatabase) =>
  (await t.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0]!.n;

/** Each insert into resources takes 50 ms more: a run of small batches lasts long enough to break the store under it. */
async function slowInserts(t: TestDatabase) {
  await t.admin.query(
    `CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$`,
  );
  await t.admin.query(
    `CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()`,
  );
}

async function expectStoreProblem(response: Response) {
  const text = await response.text();
  // Soft: the checks after it (the database, the next run) still run and show what holds today.
  expect
    .soft(
      {
        status: response.status,
        contentType: response.headers.get('content-type'),
        location: response.headers.get('location'),
      },
      `the caller should get a clear error, not: ${response.status} ${text.slice(0, 300)}`,
    )
    .toEqual({ status: 503, contentType: 'application/problem+json', location: null });
  const problem = JSON.parse(text);
  // It says what failed, the report and not the database, and names the run it was for.
  expect
    .soft(problem)
    .toMatchObject({ type: 'urn:sark-migrate:problem:store-unavailable', reportId: expect.any(String) });
  expect.soft(problem.detail).toMatch(/report/i);
}

/** The migration's rows are all there and exact, the lease free: the database work stayed. */
async function expectMigrated(t: TestDatabase) {
  expect(await checkFidelity(t.admin, 'orm')).toEqual({
    serverMismatches: [],
    toolMismatches: [],
    resources: SERVERS,
    capabilities: SERVERS * TOOLS,
  });
  expect(await leaseState(t.admin)).toEqual({ holder: null, leftMs: null });
}

/** With the store working again, the next run reports what the database holds, and its report is stored. */
async function expectNextRunReports(app: TestApp, folder: FailingFolder, present: number) {
  await folder.repair();
  const response = await app.call('POST', '/migrate', { body: { dryRun: false } });
  expect(response.status).toBe(200);
  const report = await response.json();
  expect(report).toMatchObject({
    status: 'succeeded',
    tables: { resources: { alreadyPresent: present, copied: SERVERS - present } },
  });
  expect((await app.call('GET', `/reports/${report.id}`)).status).toBe(200);
}

const targets = databaseTargets().filter((t) => t.driver !== 'neon');

for (const target of targets) {
  describe(`a report store that fails [${target.driver}]`, () => {
    it('at the end of a synchronous run: 503 naming the report, the migration stays, the next run reports it', () =>
      withDatabase(target, async (t) => {
        await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
        await slowInserts(t);
        const folder = await failingFolder();
        const app = await makeTestApp(t.db, { objects: fsObjectStore(folder.path) });
        const running = app.call('POST', '/migrate', { body: { dryRun: false, batchSize: 5, parallelism: 1 } });
        await until(async () => (await resources(t)) > 0, 'the first batch');
        await folder.fail(); // the run goes on; only its report cannot be written
        const response = await running;
        await app.settle();
        await t.admin.query('DROP TRIGGER slow_batch ON resources');

        await expectMigrated(t);
        await expectStoreProblem(response);
        await expectNextRunReports(app, folder, SERVERS);
      }));

    it('from the start of a respond-async run: 503, never a Location that 404s; the next run completes', () =>
      withDatabase(target, async (t) => {
        await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
        const folder = await failingFolder();
        const app = await makeTestApp(t.db, { objects: fsObjectStore(folder.path) });
        await folder.fail();
        const response = await app.call('POST', '/migrate', {
          body: { dryRun: false },
          headers: { Prefer: 'respond-async' },
        });
        await app.settle();
        const location = response.headers.get('location');
        if (location) {
          // What the caller would do with it, once the store answers again.
          await folder.repair();
          const followed = await app.call('GET', location);
          await folder.fail();
          expect.soft(followed.status, `${location} answered ${followed.status}`).toBe(200);
        }
        await expectStoreProblem(response);
        // Whatever the run did before it stopped stays whole, and its lease is free.
        expect(await resourcesMissingTools(t.admin)).toBe(0);
        expect(await leaseState(t.admin)).toEqual({ holder: null, leftMs: null });
        await expectNextRunReports(app, folder, await resources(t));
        await expectMigrated(t);
      }));

    it('under a respond-async run after 202: the work stays, and its report does not say running for ever', () =>
      withDatabase(target, async (t) => {
        await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
        await slowInserts(t);
        const folder = await failingFolder();
        const app = await makeTestApp(t.db, { objects: fsObjectStore(folder.path) });
        const accepted = await app.call('POST', '/migrate', {
          body: { dryRun: false, batchSize: 5, parallelism: 1 },
          headers: { Prefer: 'respond-async' },
        });
        expect(accepted.status).toBe(202);
        const { id } = await accepted.json();
        await folder.fail();
        await app.settle();
        await t.admin.query('DROP TRIGGER slow_batch ON resources');
        await expectMigrated(t);

        await expectNextRunReports(app, folder, SERVERS);
        // The caller's Location: once the store answers again, it shows how the run ended.
        const report = await (await app.call('GET', `/reports/${id}`)).json();
        expect(report.status, `report ${id} after its run ended and the store came back`).not.toBe('running');
      }));
  });
}
