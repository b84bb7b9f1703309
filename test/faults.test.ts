import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createNeonDatabase } from '../src/adapters/db/neon.js';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import type { Database } from '../src/adapters/db/types.js';
import { ServiceSchemaGate, withServiceSchema } from '../src/db/service-migrations.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { databaseTargets, type TestDatabase } from './support/databases.js';
import {
  archiveDigest,
  emptyArchive,
  leaseState,
  notExactlyOnce,
  v1Checksum,
  v2Digest,
  type LeaseState,
} from './support/fault-checks.js';
import { checkFidelity, resourcesMissingTools } from './support/fidelity.js';
import { planIdFor } from './support/rollback.js';
import { seedV1 } from './support/seed.js';
import { prng, startCutProxy, type CutProxy } from './support/tcp-cut-proxy.js';
import { startWsProxy, type WsProxy } from './support/ws-proxy.js';

/**
 * Fault trials: migrate and rollback at 10k servers × 10 tools through a TCP proxy that cuts
 * each connection after a random number of bytes. Each run ends in success or a clean problem,
 * never a hang; it leaves whole batches only and a lease that is free or expiring; a re-run
 * without faults then ends exact: /validate passes, and a rollback's archive holds exactly what
 * it removed. FAULT_TRIALS (default 3; `npm run test:chaos`: 20) trials of each through pg,
 * FAULT_NEON_TRIALS (default 1; 5) through the Neon driver; FAULT_SEED (fixed; random in
 * test:chaos, printed) replays a run.
 */
const TRIALS = Number(process.env.FAULT_TRIALS ?? 3);
const NEON_TRIALS = Number(process.env.FAULT_NEON_TRIALS ?? 1);
const SEED = Number(process.env.FAULT_SEED ?? 20_260_611);
const SERVERS = Number(process.env.FAULT_SERVERS ?? 10_000);
const TOOLS = 10;
/** Short, so a run whose release was cut leaves a lease the re-run can take over soon. */
const LEASE_TTL_MS = 3_000;
/** A connection carries a batch's statements in a few KB: budgets from inside the handshake to past a whole run. */
const CUT_BYTES = { minBytes: 64, maxBytes: Number(process.env.FAULT_MAX_BYTES ?? 40_000) };
/** A faulted run must answer within this; anything longer is a hang. */
const ANSWER_MS = 120_000;
/** Answers a run whose connections were cut may give: a lost connection, or a lease that expired meanwhile. */
const CLEAN_FAILURES = ['database-unavailable', 'lease-lost', 'lock-timeout', 'statement-timeout'];

const real = process.env.TEST_DATABASE_URL;

async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Rig {
  t: TestDatabase;
  proxy: CutProxy;
  ws?: WsProxy;
  /** The service's databases, for reads and for changing runs: every connection through the cutting proxy. */
  db: Database;
  changes: Database;
  app: TestApp;
  v1: string;
}

/** What a faulted run answered. */
interface Answer {
  status: number;
  /** The report's status (200), or the problem's slug. */
  outcome: string;
  /** The run's id, where the answer names it (a report, or a problem's reportId). */
  runId: string | undefined;
  body: Record<string, unknown>;
}

async function answerOf(response: Response): Promise<Answer> {
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status === 200) return { status: 200, outcome: String(body.status), runId: String(body.id), body };
  expect(response.headers.get('content-type'), JSON.stringify(body)).toBe('application/problem+json');
  const slug = String(body.type).replace('urn:sark-migrate:problem:', '');
  return { status: response.status, outcome: slug, runId: body.reportId as string | undefined, body };
}

/** Asserts the faulted run answered cleanly: succeeded, or a problem a lost connection explains. */
function expectClean(answer: Answer) {
  const clean = answer.status === 200 ? answer.outcome === 'succeeded' : CLEAN_FAILURES.includes(answer.outcome);
  expect(clean, `a faulted run answered ${answer.status}: ${JSON.stringify(answer.body)}`).toBe(true);
  expect(answer.status, JSON.stringify(answer.body)).not.toBe(500);
}

/** The lease is free, or held by the faulted run (when its answer named it) and expiring within its TTL. */
function expectFreeOrExpiring(lease: LeaseState, runId: string | undefined) {
  if (lease.holder === null) return;
  if (runId) expect(lease.holder).toBe(runId);
  expect(lease.leftMs).not.toBeNull();
  expect(lease.leftMs!).toBeLessThanOrEqual(LEASE_TTL_MS + 500);
}

/**
 * A run without faults: retried while a faulted run's lease has yet to expire, then 200. A
 * rollback runs on the plan of a dry run made just before it, as a user's would.
 */
async function rerun(app: TestApp, path: '/migrate' | '/rollback', body: object) {
  for (const deadline = Date.now() + LEASE_TTL_MS + 10_000; ; await sleep(200)) {
    const plan = path === '/rollback' ? { planId: await planIdFor(app) } : {};
    const response = await app.call('POST', path, { body: { ...body, ...plan } });
    const answer = await answerOf(response);
    if (answer.outcome === 'operation-in-progress' && Date.now() < deadline) continue;
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.outcome).toBe('succeeded');
    return answer.body;
  }
}

async function validateFull(app: TestApp) {
  const response = await app.call('POST', '/validate', { body: { mode: 'full' } });
  const report = await response.json();
  const failed = (report.checks ?? []).filter((c: { passed: boolean; skipped?: boolean }) => !c.passed && !c.skipped);
  expect(failed).toEqual([]);
  expect(report).toMatchObject({ status: 'passed', exitCode: 0 });
}

async function expectMigratedExactly(rig: Rig) {
  expect(await checkFidelity(rig.t.admin, 'orm')).toEqual({
    serverMismatches: [],
    toolMismatches: [],
    resources: SERVERS,
    capabilities: SERVERS * TOOLS,
  });
  await validateFull(rig.app);
}

/** Brings the database to where a trial starts (unfaulted runs), should the trial before not have. */
async function startFrom(rig: Rig, state: 'migrated' | 'rolled back') {
  const { rows } = await rig.t.admin.query<{ r: number }>(`SELECT count(*)::int AS r FROM resources`);
  if (state === 'migrated' && rows[0]!.r !== SERVERS) await rerun(rig.app, '/migrate', { dryRun: false });
  if (state === 'rolled back' && rows[0]!.r !== 0) await rerun(rig.app, '/rollback', { dryRun: false });
  expect(await leaseState(rig.t.admin)).toEqual({ holder: null, leftMs: null });
}

/**
 * Runs path with the proxy armed under `seed`; the answer, once the run and its background work
 * have ended. The service's logs of the lost connections are counted, not printed.
 */
async function faulted(
  rig: Rig,
  seed: number,
  outage: boolean,
  path: string,
  body: object,
): Promise<Answer & { resources: number }> {
  const before = rig.proxy.stats;
  const logged = [vi.spyOn(console, 'error'), vi.spyOn(console, 'warn')].map((spy) =>
    spy.mockImplementation(() => undefined),
  );
  rig.proxy.arm(seed, { outage });
  let answer: Answer;
  let lines = 0;
  try {
    answer = await within(ANSWER_MS, `${path} under faults`, rig.app.call('POST', path, { body }).then(answerOf));
    await within(ANSWER_MS, `${path}'s background work`, rig.app.settle());
  } finally {
    rig.proxy.disarm();
    for (const spy of logged) {
      lines += spy.mock.calls.length;
      spy.mockRestore();
    }
  }
  const after = rig.proxy.stats;
  const report = answer.runId ? await rig.app.store.get(answer.runId as never) : null;
  const batches = report && 'batches' in report ? (report.batches as { committed: number }).committed : '-';
  const { rows } = await rig.t.admin.query<{ r: number }>('SELECT count(*)::int AS r FROM resources');
  const lease = await leaseState(rig.t.admin);
  console.log(
    `faults: ${path} seed ${seed} ${outage ? 'outage' : 'cuts'} batchSize ${(body as { batchSize?: number }).batchSize ?? 'adaptive'}: ` +
      `${answer.status} ${answer.outcome} after ${after.bytes - before.bytes} bytes, ${after.cuts - before.cuts} cut, ` +
      `${after.connections - before.connections} new, ${after.refused - before.refused} refused; ${batches} batches committed, ` +
      `${rows[0]!.r} resources; lease ${lease.holder ? `held, ${lease.leftMs} ms left` : 'free'}; ` +
      `${lines} lines logged`,
  );
  return { ...answer, resources: rows[0]!.r };
}

/** A batch size for the trial: adaptive, or small enough that the run has many batches to be cut between. */
const batchSizeFor = (seed: number, sizes: (number | undefined)[]) =>
  sizes[Math.floor(prng(seed ^ 0x5bd1e995)() * sizes.length)];

async function migrateTrial(rig: Rig, seed: number, outage: boolean) {
  await startFrom(rig, 'rolled back');
  const answer = await faulted(rig, seed, outage, '/migrate', {
    dryRun: false,
    batchSize: batchSizeFor(seed, [undefined, 500, 1_000]),
  });
  expectClean(answer);
  expect(await resourcesMissingTools(rig.t.admin)).toBe(0); // whole batches only
  const lease = await leaseState(rig.t.admin);
  expectFreeOrExpiring(lease, answer.runId);

  const again = await rerun(rig.app, '/migrate', { dryRun: false });
  if (lease.holder) expect(again.takenOverFrom).toBe(lease.holder);
  // It reports what the faulted run left: copied what was missing, found the rest present.
  expect(again.tables).toMatchObject({
    resources: { alreadyPresent: answer.resources, copied: SERVERS - answer.resources },
  });
  await expectMigratedExactly(rig);
  expect(await leaseState(rig.t.admin)).toEqual({ holder: null, leftMs: null });
  expect(await v1Checksum(rig.t.admin)).toBe(rig.v1);
}

async function rollbackTrial(rig: Rig, seed: number, outage: boolean) {
  await startFrom(rig, 'migrated');
  await emptyArchive(rig.t.admin); // so the archive holds exactly what this trial removes
  const before = await v2Digest(rig.t.admin);
  const answer = await faulted(rig, seed, outage, '/rollback', {
    dryRun: false,
    planId: await planIdFor(rig.app),
    batchSize: batchSizeFor(seed, [undefined, 1_000, 2_500]),
  });
  expectClean(answer);
  // Whole batches only: each v1 row is in v2 or in the archive, never both or neither, and no
  // resource is left with part of its capabilities.
  expect(await notExactlyOnce(rig.t.admin)).toEqual({ servers: 0, tools: 0, twice: 0 });
  expect(await resourcesMissingTools(rig.t.admin)).toBe(0);
  const lease = await leaseState(rig.t.admin);
  expectFreeOrExpiring(lease, answer.runId);

  const again = await rerun(rig.app, '/rollback', { dryRun: false });
  if (lease.holder) expect(again.takenOverFrom).toBe(lease.holder);
  expect(again.tables).toMatchObject({ resources: { removed: answer.resources } });
  const after = await v2Digest(rig.t.admin);
  expect([after.resources, after.capabilities]).toEqual([0, 0]);
  // The archive is what was removed: the same rows, each once.
  expect(await archiveDigest(rig.t.admin)).toEqual(before);
  expect(before).toMatchObject({ resources: SERVERS, capabilities: SERVERS * TOOLS, distinctResources: SERVERS });
  expect(await v1Checksum(rig.t.admin)).toBe(rig.v1);
  expect(await leaseState(rig.t.admin)).toEqual({ holder: null, leftMs: null });

  // Migrating again gives the first migration's data: the next trial starts from there.
  await rerun(rig.app, '/migrate', { dryRun: false });
  await expectMigratedExactly(rig);
}

function describeTrials(driver: 'pg' | 'neon', trials: number, seedBase: number) {
  describe.runIf(real && trials > 0)(`fault trials through a cutting proxy [${driver}]`, () => {
    let rig: Rig | undefined;

    beforeAll(async () => {
      const target = new URL(real!);
      const proxy = await startCutProxy({
        target: { host: target.hostname, port: Number(target.port || 5432) },
        ...CUT_BYTES,
      });
      const t = await databaseTargets()
        .find((d) => d.driver === 'pg')!
        .open();
      const name = new URL(t.url!).pathname.slice(1);
      const ws = driver === 'neon' ? await startWsProxy() : undefined;
      const open = () =>
        driver === 'pg'
          ? createPgDatabase({ connectionString: proxy.url(name) })
          : createNeonDatabase({
              connectionString: proxy.url(name),
              webSocketConstructor: WebSocket,
              wsProxy: ws!.url,
            });
      // As the Node entry builds them: reads and changing runs on pools of their own, both through the proxy.
      const [db, changes] = [open(), open()];
      const app = await makeTestApp(db, {
        deps: { leaseTtlMs: LEASE_TTL_MS, changes: withServiceSchema(changes, new ServiceSchemaGate(), 'changes') },
      });
      rig = { t, proxy, db, changes, app, v1: '', ...(ws ? { ws } : {}) };
      await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
      rig.v1 = await v1Checksum(t.admin);
      console.log(
        `faults [${driver}]: ${trials} trials each of migrate and rollback at ${SERVERS} × ${TOOLS}, seed ${seedBase} (FAULT_SEED=${SEED} reproduces), cuts after ${CUT_BYTES.minBytes}-${CUT_BYTES.maxBytes} bytes`,
      );
    }, 120_000);

    afterAll(async () => {
      await rig?.db.close();
      await rig?.changes.close();
      await rig?.proxy.close();
      await rig?.ws?.close();
      await rig?.t.dispose();
    });

    // Trials alternate between connections cut one by one and an outage (the first cut takes every
    // connection down, new ones refused, until the run has answered): then even the lease's
    // release is lost, and the re-run has to take the lease over once it expires.
    for (let i = 0; i < trials; i++) {
      const seed = seedBase + 2 * i;
      const [migrateOutage, rollbackOutage] = [i % 2 === 0, i % 2 === 1];
      const how = (outage: boolean) => (outage ? 'an outage' : 'a cut');
      it(
        `migrate under ${how(migrateOutage)}, then a re-run: whole batches, lease free or taken over, exact (trial ${i + 1}, seed ${seed})`,
        () => migrateTrial(rig!, seed, migrateOutage),
        300_000,
      );
      it(
        `rollback under ${how(rollbackOutage)}, then a re-run: archive equals what was removed (trial ${i + 1}, seed ${seed + 1})`,
        () => rollbackTrial(rig!, seed + 1, rollbackOutage),
        300_000,
      );
    }
  });
}

describeTrials('pg', TRIALS, SEED);
describeTrials('neon', NEON_TRIALS, SEED + 1_000_000);
