/**
 * One load run, end to end, for `npm run load` (scripts/load.ts) and test/load.test.ts: a
 * database `wl_...` with SARK v1, the Node service started as child processes on it, then
 *
 *   1. changing runs at once on one process: exactly one runs; the data exact, the lease free;
 *   2. reads under autocannon on the migrated data: no 5xx, 429 only where a token is shared;
 *   3. a rollback, a second process, and changing runs at once spread over both: the same.
 *
 * Every broken rule is collected in `violations`; the database and the temporary folder are
 * removed however the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgDatabase } from '../../src/adapters/db/pg.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { createV1Schema, generateV1Data } from '../../src/demo/generate.js';
import { admin, databaseUrl } from '../workers-dev.js';
import { concurrentChangingRuns, type ChangingRunsResult } from './changing.js';
import { mixedLoad, type MixedLoadResult } from './mixed.js';
import { startNodeService, type NodeService } from './service.js';
import { loadTokens } from './tokens.js';

export interface LoadOptions {
  /** A PostgreSQL server and a superuser: the run creates and drops its database. */
  serverUrl: string;
  servers: number;
  tools: number;
  durationS: number;
  connections: number;
  /** Validating connections with a token each; the rest of the validating half share one token. */
  users: number;
  changingRuns: number;
  /** How long any request may wait for its answer. */
  timeoutS: number;
  /**
   * Tests only: each INSERT into v2's resources takes this long more (a trigger), so the
   * changing run outlasts the arrival of the others on a small database. The v2 tables are
   * then made before the service starts, to carry the trigger.
   */
  slowBatchMs?: number;
  log?: (line: string) => void;
}

export interface DatabaseState {
  v1Servers: number;
  v1Tools: number;
  resources: number;
  capabilities: number;
  leaseHolder: string | null;
  running: number;
  /** Runs the sweep ended for want of a heartbeat: with every process alive, a run whose end was lost. */
  abandoned: number;
  deadlocks: number;
}

export interface LoadResult {
  database: string;
  options: Omit<LoadOptions, 'log' | 'serverUrl'>;
  /** The 1-, 5- and 15-minute load averages at the start and at the end, and the cores. */
  machine: { cores: number; loadBefore: number[]; loadAfter: number[] };
  oneProcess: ChangingRunsResult | null;
  mixed: MixedLoadResult | null;
  /** The reads' rows in sark_migrate.runs after the load, by status. */
  readRuns: Record<string, number>;
  twoProcesses: ChangingRunsResult | null;
  /** What the services wrote to stderr. */
  serviceErrors: string[];
  violations: string[];
}

/** The scenarios' names, as the violations are prefixed with them. */
export const SCENARIOS = {
  oneProcess: 'changing runs, one process',
  reads: 'reads under load',
  rollback: 'rollback',
  twoProcesses: 'changing runs, two processes',
} as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Json = Record<string, unknown>;

async function post(url: string, token: string, path: string, body: unknown, timeoutMs: number) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function createDatabase(options: LoadOptions, name: string): Promise<string> {
  await admin(options.serverUrl, `CREATE DATABASE ${name}`);
  const url = databaseUrl(options.serverUrl, name);
  const db = createPgDatabase({ connectionString: url });
  try {
    await db.transaction(async (tx) => {
      await createV1Schema(tx, 'orm');
      await generateV1Data(tx, { servers: options.servers, toolsPerServer: options.tools, shape: 'orm' });
    });
    if (options.slowBatchMs) {
      await db.withAdvisoryLock((session) => applyMigrations(session));
      await db.query(
        `CREATE FUNCTION wl_slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${options.slowBatchMs / 1000}); RETURN NULL; END $$;
         CREATE TRIGGER wl_slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION wl_slow_batch()`,
      );
    }
    await db.query('VACUUM ANALYZE');
  } finally {
    await db.close();
  }
  return url;
}

export async function databaseState(url: string): Promise<DatabaseState> {
  const [row] = await admin<DatabaseState>(
    url,
    `SELECT (SELECT count(*)::int FROM mcp_servers) AS "v1Servers",
            (SELECT count(*)::int FROM mcp_tools) AS "v1Tools",
            (SELECT count(*)::int FROM resources) AS resources,
            (SELECT count(*)::int FROM capabilities) AS capabilities,
            (SELECT holder FROM sark_migrate.lease WHERE id = 1) AS "leaseHolder",
            (SELECT count(*)::int FROM sark_migrate.runs WHERE status = 'running') AS running,
            (SELECT count(*)::int FROM sark_migrate.runs WHERE status = 'abandoned') AS abandoned,
            (SELECT deadlocks::int FROM pg_stat_database WHERE datname = current_database()) AS deadlocks`,
  );
  return row!;
}

/** Runs still `running` end within `timeoutMs` (reads autocannon left in flight finish on their own). */
async function untilNoneRunning(url: string, timeoutMs: number): Promise<DatabaseState> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(250)) {
    const state = await databaseState(url);
    if (state.running === 0 || Date.now() > deadline) return state;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutS * 1000;
  const name = `wl_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const tmp = mkdtempSync(join(tmpdir(), 'wl-load-'));
  const { log: _log, serverUrl: _serverUrl, ...shown } = options;
  const result: LoadResult = {
    database: name,
    options: shown,
    machine: { cores: availableParallelism(), loadBefore: loadavg(), loadAfter: [] },
    oneProcess: null,
    mixed: null,
    readRuns: {},
    twoProcesses: null,
    serviceErrors: [],
    violations: [],
  };
  const services: NodeService[] = [];
  const violate = (scenario: string, what: string[]) => result.violations.push(...what.map((w) => `${scenario}: ${w}`));
  try {
    log(`database ${name}: SARK v1, ${options.servers} servers × ${options.tools} tools ...`);
    const url = await createDatabase(options, name);
    const deadlocksBefore = (
      await admin<{ n: number }>(
        url,
        'SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()',
      )
    )[0]!.n;
    const tokens = await loadTokens(options.users);
    const operator = tokens.operators[0]!;
    const start = async (label: string) => {
      const service = await startNodeService({
        databaseUrl: url,
        apiTokens: tokens.apiTokens,
        reportsDir: join(tmp, `reports-${label}`),
        tmpDir: tmp,
        name: label,
      });
      services.push(service);
      return service;
    };

    /** Runs abandoned since the last look: with every process alive, runs whose end the ledger lost. */
    let abandonedBefore = 0;
    const newlyAbandoned = (state: DatabaseState) => {
      const n = state.abandoned - abandonedBefore;
      abandonedBefore = state.abandoned;
      return n === 0
        ? []
        : [
            `${n} runs marked abandoned in sark_migrate.runs while every process was alive: their end was never recorded`,
          ];
    };

    /** After changing runs: every v1 row in v2, the lease free, no run left running, /validate full passed. */
    const checkMigrated = async (scenario: string, service: NodeService) => {
      const state = await untilNoneRunning(url, timeoutMs);
      const wrong: string[] = [];
      if (state.resources !== state.v1Servers || state.capabilities !== state.v1Tools)
        wrong.push(
          `v2 holds ${state.resources} resources and ${state.capabilities} capabilities for ${state.v1Servers} servers and ${state.v1Tools} tools`,
        );
      if (state.leaseHolder !== null) wrong.push(`the lease is still held by ${state.leaseHolder}`);
      if (state.running !== 0) wrong.push(`${state.running} runs still running in sark_migrate.runs`);
      wrong.push(...newlyAbandoned(state));
      const check = await post(service.url, operator, '/validate', { mode: 'full' }, timeoutMs);
      if (check.status !== 200 || check.body.status !== 'passed')
        wrong.push(`/validate full answered ${check.status} ${String(check.body.status ?? check.body.type)}`);
      violate(scenario, wrong);
    };

    const first = await start('service-a');
    log(`service-a on ${first.url}; ${options.changingRuns} changing runs at once ...`);
    result.oneProcess = await concurrentChangingRuns({
      urls: [first.url],
      tokens: tokens.operators,
      requests: options.changingRuns,
      timeoutMs,
    });
    violate(SCENARIOS.oneProcess, result.oneProcess.violations);
    await checkMigrated(SCENARIOS.oneProcess, first);

    log(`${options.durationS} s of autocannon, ${options.connections} connections ...`);
    result.mixed = await mixedLoad({
      url: first.url,
      durationS: options.durationS,
      connections: options.connections,
      tokens,
      timeoutS: options.timeoutS,
    });
    violate(SCENARIOS.reads, result.mixed.violations);
    const settled = await untilNoneRunning(url, timeoutMs);
    if (settled.running !== 0)
      violate(SCENARIOS.reads, [`${settled.running} runs still running ${options.timeoutS} s after the load`]);
    violate(SCENARIOS.reads, newlyAbandoned(settled));
    result.readRuns = Object.fromEntries(
      (
        await admin<{ status: string; n: number }>(
          url,
          'SELECT status, count(*)::int AS n FROM sark_migrate.runs WHERE NOT changing GROUP BY status ORDER BY status',
        )
      ).map((r) => [r.status, r.n]),
    );

    log('rollback, then a second process ...');
    const plan = await post(first.url, operator, '/rollback', {}, timeoutMs);
    const rollback = await post(
      first.url,
      operator,
      '/rollback',
      { dryRun: false, planId: plan.body.planId },
      timeoutMs,
    );
    const emptied = await databaseState(url);
    if (rollback.status !== 200 || rollback.body.status !== 'succeeded' || emptied.resources !== 0)
      violate(SCENARIOS.rollback, [
        `answered ${rollback.status} ${String(rollback.body.status ?? rollback.body.type)}, ${emptied.resources} resources left`,
      ]);

    const second = await start('service-b');
    log(`service-b on ${second.url}; ${options.changingRuns} changing runs at once over both ...`);
    result.twoProcesses = await concurrentChangingRuns({
      urls: [first.url, second.url],
      tokens: tokens.operators,
      requests: options.changingRuns,
      timeoutMs,
    });
    violate(SCENARIOS.twoProcesses, result.twoProcesses.violations);
    await checkMigrated(SCENARIOS.twoProcesses, second);

    const end = await databaseState(url);
    if (end.deadlocks !== deadlocksBefore)
      violate('the database', [`${end.deadlocks - deadlocksBefore} deadlocks detected`]);
  } catch (error) {
    result.violations.push(`the run stopped: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    for (const service of services) {
      const code = await service.stop();
      result.serviceErrors.push(...service.stderrLines());
      if (code !== 0) result.violations.push(`${service.url}: the service exited ${code} on SIGTERM`);
    }
    await admin(options.serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error: unknown) =>
      result.violations.push(`could not drop ${name}: ${String(error)}`),
    );
    rmSync(tmp, { recursive: true, force: true });
    result.machine.loadAfter = loadavg();
  }
  return result;
}
