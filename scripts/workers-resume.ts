/**
 * npm run workers:resume: a migration on the Worker (wrangler dev: workerd, local R2, the local
 * Workflows engine, the Neon driver through the WebSocket proxy) killed mid-run with SIGKILL,
 * `wrangler dev` started again on the same state, the run resumed under its own report id, and
 * the result checked exactly: /validate full through the Worker, and the counts in SQL.
 *
 *   npm run workers:resume                                    100,000 servers × 10 tools
 *   npm run workers:resume -- --servers 5000 --batch-size 25  a quick try (200 batches)
 *   options: --servers 100000 --tools 10 --batch-size 2000 --kill-after 5 (batches done)
 *            --server postgres://postgres@127.0.0.1:5432/postgres (or BENCH_DATABASE_URL)
 *
 * Exits 1 on any mismatch. Its database (wb_resume_...) and temporary directory go when it ends.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startWsProxy, type WsProxy } from '../test/support/ws-proxy.js';
import {
  admin,
  adminToken,
  apiClient,
  createV1Database,
  databaseUrl,
  REPO,
  WRANGLER,
  startWranglerDev,
  tail,
  WORKFLOW_NAME,
  type DevServer,
  type Json,
} from './workers-dev.js';

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: '100000' },
    tools: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '2000' },
    'kill-after': { type: 'string', default: '5' },
    server: {
      type: 'string',
      default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const SERVERS = Number(opts.servers);
const TOOLS = Number(opts.tools);
const BATCH_SIZE = Number(opts['batch-size']);
const KILL_AFTER = Number(opts['kill-after']);
const SERVER = opts.server;
const DB_NAME = `wb_resume_${Date.now().toString(36)}`;
const DB_URL = databaseUrl(SERVER, DB_NAME);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const elapsed = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const failures: string[] = [];
function expectEqual(what: string, actual: unknown, expected: unknown): void {
  const ok = JSON.stringify(actual) === JSON.stringify(expected);
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(actual)}${ok ? '' : ` (expected ${JSON.stringify(expected)})`}`,
  );
  if (!ok) failures.push(what);
}

/** What the database shows of the run: its committed batches, the v2 rows, the lease. */
async function databaseState(id: string) {
  const [row] = await admin<{
    committed: number;
    resources: number;
    capabilities: number;
    holder: string | null;
    lease_seconds_left: number | null;
    run_status: string | null;
  }>(
    DB_URL,
    `SELECT (SELECT count(*)::int FROM sark_migrate.run_steps WHERE run_id = $1 AND step LIKE 'batch %') AS committed,
            (SELECT count(*)::int FROM resources) AS resources,
            (SELECT count(*)::int FROM capabilities) AS capabilities,
            (SELECT holder FROM sark_migrate.lease) AS holder,
            (SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 FROM sark_migrate.lease) AS lease_seconds_left,
            (SELECT status FROM sark_migrate.runs WHERE id = $1) AS run_status`,
    [id],
  );
  return row!;
}

/** Waits until the killed Worker's connections are gone from the server: what they committed is all there is. */
async function untilDisconnected(): Promise<void> {
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    const [row] = await admin<{ n: number }>(
      SERVER,
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [DB_NAME],
    );
    if (row!.n === 0) return;
    if (Date.now() > deadline) throw new Error(`${row!.n} connections to ${DB_NAME} outlived the kill`);
  }
}

/** The local Workflows engine's view of an instance (what `wrangler workflows instances describe --local` shows). */
async function instanceOf(dev: DevServer, id: string) {
  const response = await fetch(`${dev.url}/cdn-cgi/explorer/api/workflows/${WORKFLOW_NAME}/instances/${id}`);
  const body = (await response.json()) as {
    success: boolean;
    result: { status: string; params: Json; steps: { name: string; success: boolean | null }[] };
  };
  if (!body.success) throw new Error(`instance ${id}: ${JSON.stringify(body)}`);
  const batches = body.result.steps.filter((s) => s.name.startsWith('batch '));
  return {
    ...body.result,
    batchesRecorded: batches.filter((s) => s.success === true).length,
    batchesInFlight: batches.filter((s) => s.success === null).length,
  };
}

/**
 * Resumes the instance: `create` again with its id and its own params. The local engine then
 * replays it, giving back every step it recorded, and runs the rest. Wrangler's local engine
 * resumes nothing by itself after a restart (its alarms are no-ops); Cloudflare's hosted engine
 * is documented to.
 */
async function resume(dev: DevServer, id: string, params: Json): Promise<string> {
  const args = ['workflows', 'trigger', WORKFLOW_NAME, JSON.stringify(params), '--id', id];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [WRANGLER, ...args, '--local', '--port', String(dev.port)],
    { cwd: REPO, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  return stdout.trim().split('\n').at(-1) ?? '';
}

async function main(): Promise<number> {
  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'wb-resume-'));
  let proxy: WsProxy | undefined;
  let dev: DevServer | undefined;
  let created = false;
  const cleanUp = async () => {
    await dev?.stop().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    if (created) await admin(SERVER, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    rmSync(tmp, { recursive: true, force: true });
  };
  const interrupted = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    console.log(`database ${DB_NAME}: SARK v1, ${SERVERS.toLocaleString('en')} servers × ${TOOLS} tools ...`);
    created = true;
    await createV1Database(SERVER, DB_NAME, SERVERS, TOOLS);
    console.log(`  built in ${elapsed(started)}`);

    proxy = await startWsProxy();
    const { token, apiTokens } = await adminToken('workers-resume');
    const persistTo = join(tmp, 'state');
    const startDev = () =>
      startWranglerDev({
        vars: { DATABASE_URL: DB_URL, WS_PROXY: proxy!.url, API_TOKENS: apiTokens },
        persistTo,
        tmpDir: tmp,
      });
    dev = await startDev();
    console.log(`wrangler dev on ${dev.url} (state in ${persistTo})`);

    let api = apiClient(dev.url, token);
    const migrateStarted = performance.now();
    const id = await api.start('/migrate', { dryRun: false, batchSize: BATCH_SIZE });
    console.log(`POST /migrate (respond-async): report ${id}`);
    let before: Json;
    for (;;) {
      before = await api.report(id);
      const done = (before.progress as { done: number } | undefined)?.done ?? 0;
      if (before.status !== 'running')
        throw new Error(
          `the run ended (${before.status}) before ${KILL_AFTER} batches were seen: use a smaller --batch-size`,
        );
      if (done >= KILL_AFTER) break;
      await sleep(50);
    }
    await dev.kill();
    dev = undefined;
    await untilDisconnected();
    const atKill = await databaseState(id);
    const progressAtKill = before.progress as { done: number; total: number };
    console.log(
      `SIGKILL to wrangler dev and workerd after ${elapsed(migrateStarted)}: progress ${progressAtKill.done}/${progressAtKill.total}, ` +
        `${atKill.committed} batches committed, lease held by the run for ${atKill.lease_seconds_left?.toFixed(0)} s more`,
    );

    const restarted = performance.now();
    dev = await startDev();
    api = apiClient(dev.url, token);
    const instance = await instanceOf(dev, id);
    const stored = await api.report(id);
    console.log(
      `wrangler dev again on ${dev.url} in ${elapsed(restarted)}, same state: instance ${instance.status}, report ${stored.status}; ` +
        `the engine recorded ${instance.batchesRecorded} batch steps, ${instance.batchesInFlight} in flight`,
    );
    // Nothing goes on by itself: the report and the database stay as the kill left them.
    await sleep(3_000);
    const idle = await databaseState(id);
    expectEqual('after the restart, no batch commits by itself', idle.committed, atKill.committed);
    expectEqual('nor is the report written', (await api.report(id)).progress, stored.progress);

    // A new POST is a new run: it is refused while the killed run's lease is live.
    if ((idle.lease_seconds_left ?? 0) > 10) {
      const again = await api.request('POST', '/migrate', { dryRun: false, batchSize: BATCH_SIZE });
      expectEqual('a repeated POST /migrate answers', [again.status, again.body.holder], [409, id]);
    } else console.log('  (no repeated POST: the lease expires within 10 s, and a new run would take it over)');

    const resumedAt = performance.now();
    console.log(
      `resume: wrangler workflows trigger ${WORKFLOW_NAME} '<its params>' --id ${id} --local: ${await resume(dev, id, instance.params)}`,
    );
    const report = await api.untilEnded(id, 200);
    const after = await databaseState(id);
    const batches = report.batches as { planned: number; committed: number; retries: number };
    const summary = report.summary as { copied: number };
    console.log(
      `report ${report.status} ${elapsed(resumedAt)} after the resume: ${(report.summary as { message: string }).message}`,
    );
    expectEqual('report status', report.status, 'succeeded');
    expectEqual('batches committed = planned', batches.committed, batches.planned);
    expectEqual('rows copied (each once)', summary.copied, SERVERS * (TOOLS + 1));
    expectEqual('takenOverFrom', report.takenOverFrom ?? null, null);
    expectEqual(
      'the run ended in the ledger, its steps forgotten, the lease free',
      [after.run_status, after.committed, after.holder],
      ['succeeded', 0, null],
    );

    const [counts] = await admin<Json>(
      DB_URL,
      `SELECT (SELECT count(*)::int FROM mcp_servers) AS servers, (SELECT count(*)::int FROM mcp_tools) AS tools,
              (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities`,
    );
    expectEqual(
      'SQL: v1 servers, tools = v2 resources, capabilities',
      [counts!.resources, counts!.capabilities],
      [counts!.servers, counts!.tools],
    );

    const validateStarted = performance.now();
    const validation = await api.untilEnded(await api.start('/validate', { mode: 'full' }), 200);
    const failed = (validation.checks as { name: string; passed: boolean }[])
      .filter((c) => !c.passed)
      .map((c) => c.name);
    expectEqual(
      'POST /validate full through the Worker: status, exitCode, failed checks',
      [validation.status, validation.exitCode, failed],
      ['passed', 0, []],
    );

    console.log(`\nreport ${id}`);
    console.log(
      `  before the kill:   ${atKill.committed} batches committed (of ${batches.planned}): ${instance.batchesRecorded} recorded as steps, ` +
        `${atKill.committed - instance.batchesRecorded} committed in a step the kill cut short; progress showed ${progressAtKill.done}`,
    );
    console.log(
      `  after the restart: ${batches.committed - atKill.committed} batches committed, ${batches.retries} retries`,
    );
    console.log(
      `  takenOverFrom:     ${(report.takenOverFrom as string | undefined) ?? 'none (the run resumed under its own id)'}`,
    );
    console.log(
      `  validation:        ${validation.status}, exitCode ${validation.exitCode}, ${(validation.checks as unknown[]).length} checks, ${elapsed(validateStarted)}`,
    );
    console.log(`  total time:        ${elapsed(started)}`);
    console.log(failures.length === 0 ? 'OK' : `FAILED: ${failures.join('; ')}`);
    return failures.length === 0 ? 0 : 1;
  } catch (error) {
    console.error(error);
    if (dev) console.error(`wrangler's log, its end:\n${tail(dev.logFile)}`);
    return 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main();
