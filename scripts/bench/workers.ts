/**
 * `npm run bench -- --runtime workers`: migrate, validate and rollback through the Worker
 * (wrangler dev: workerd, the local Workflows engine and R2, the Neon driver through the
 * WebSocket proxy), beside the same operation in process through pg and the raw-SQL floor, on
 * identical copies of one database, in rounds that take turns at going first.
 *
 * The Worker is timed as a client sees it: POST with Prefer: respond-async, then GET
 * /reports/{id} every 100 ms until the report has ended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/adapters/db/types.js';
import { startWsProxy } from '../../test/support/ws-proxy.js';
import { adminToken, apiClient, startWranglerDev, type ApiClient, type Json } from '../workers-dev.js';

export type WorkerOp = 'migrate' | 'validate' | 'rollback';
export const WORKER_OPS: readonly WorkerOp[] = ['migrate', 'validate', 'rollback'];

type Timed = (db: Database) => Promise<number>;

/** What bench.ts lends: its copies of the template, its floors and its in-process runs (each in seconds). */
export interface WorkersBenchKit {
  ops: WorkerOp[];
  rounds: number;
  servers: number;
  tools: number;
  withCopy<T>(label: string, work: (db: Database, url: string) => Promise<T>, template?: string): Promise<T>;
  /** The migrated template's name, built if missing: what rollback starts from. */
  migratedTemplate(): Promise<string>;
  floor: Record<WorkerOp, Timed>;
  node: Record<WorkerOp, Timed>;
}

type Path = 'floor' | 'node' | 'workers';
/** Round r runs the three paths in the order ORDERS[r % 3]: each goes first, second and last in turn. */
const ORDERS: Path[][] = [
  ['floor', 'node', 'workers'],
  ['node', 'workers', 'floor'],
  ['workers', 'floor', 'node'],
];

interface Samples {
  floor: number[];
  node: number[];
  workers: number[];
  /** The Worker's report: its durationMs (s), and its steps (batches, or checks). */
  reported: number[];
  steps: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (s: number) => `${s.toFixed(s < 10 ? 2 : 1)} s`;

/** What an operation's report counts as its steps, and whether it did the whole job. */
function checkReport(op: WorkerOp, report: Json, rows: number): number {
  const fail = () => new Error(`${op} through the Worker: ${report.status} ${JSON.stringify(report.summary)}`);
  if (op === 'validate') {
    if (report.status !== 'passed') throw fail();
    return (report.checks as unknown[]).length;
  }
  const summary = report.summary as { copied?: number; removed?: number };
  if (report.status !== 'succeeded' || (summary.copied ?? summary.removed) !== rows) throw fail();
  return (report.batches as { committed: number }).committed;
}

const REQUESTS: Record<WorkerOp, [string, object]> = {
  migrate: ['/migrate', { dryRun: false }],
  validate: ['/validate', { mode: 'full' }],
  rollback: ['/rollback', { dryRun: false, backportChanges: false }],
};

export async function benchWorkers(kit: WorkersBenchKit): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'wb-bench-'));
  const proxy = await startWsProxy();
  const { token, apiTokens } = await adminToken('bench');
  const rows = kit.servers * (kit.tools + 1);

  /** A wrangler dev on the database at `url`, with a state of its own, for `work`. */
  const withWorker = async <T>(url: string, work: (api: ApiClient) => Promise<T>): Promise<T> => {
    const persistTo = mkdtempSync(join(tmp, 'state-'));
    const dev = await startWranglerDev({
      vars: { DATABASE_URL: url, WS_PROXY: proxy.url, API_TOKENS: apiTokens },
      persistTo,
      tmpDir: tmp,
    });
    try {
      return await work(apiClient(dev.url, token));
    } finally {
      await dev.stop();
      rmSync(persistTo, { recursive: true, force: true });
    }
  };
  /** One operation through the Worker, end to end; its report's figures go into `samples`. */
  const throughWorker = async (api: ApiClient, op: WorkerOp, samples: Samples): Promise<number> => {
    const [path, request] = REQUESTS[op];
    // A rollback runs on the plan of a dry run, as a user runs one; the dry run is not timed.
    const body =
      op === 'rollback'
        ? { ...request, planId: (await api.untilEnded(await api.start(path, { ...request, dryRun: true }))).planId }
        : request;
    const started = performance.now();
    const report = await api.untilEnded(await api.start(path, body), 100);
    const seconds = (performance.now() - started) / 1000;
    samples.steps.push(checkReport(op, report, rows));
    samples.reported.push((report.durationMs as number) / 1000);
    return seconds;
  };

  const results = new Map<WorkerOp, Samples>();
  try {
    for (const op of kit.ops) {
      const samples: Samples = { floor: [], node: [], workers: [], reported: [], steps: [] };
      results.set(op, samples);
      if (op === 'validate') {
        // Validate reads only: every round on one migrated copy, and one Worker on it throughout.
        await kit.withCopy('wkvalidate', async (db, url) => {
          await kit.floor.migrate(db);
          await db.query('VACUUM ANALYZE');
          await withWorker(url, async (api) => {
            const run: Record<Path, () => Promise<number>> = {
              floor: () => kit.floor.validate(db),
              node: () => kit.node.validate(db),
              workers: () => throughWorker(api, op, samples),
            };
            for (let round = 1; round <= kit.rounds; round++) await playRound(op, round, run, samples);
          });
        });
        continue;
      }
      // Migrate and rollback change the database: every run on a fresh copy.
      const template = op === 'rollback' ? await kit.migratedTemplate() : undefined;
      const run: Record<Path, () => Promise<number>> = {
        floor: () => kit.withCopy(`wk${op}floor`, (db) => kit.floor[op](db), template),
        node: () => kit.withCopy(`wk${op}node`, (db) => kit.node[op](db), template),
        workers: () =>
          kit.withCopy(
            `wk${op}worker`,
            (_db, url) => withWorker(url, (api) => throughWorker(api, op, samples)),
            template,
          ),
      };
      for (let round = 1; round <= kit.rounds; round++) await playRound(op, round, run, samples);
    }
  } finally {
    await proxy.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  printTable(kit, results);
}

async function playRound(op: WorkerOp, round: number, run: Record<Path, () => Promise<number>>, samples: Samples) {
  for (const path of ORDERS[(round - 1) % ORDERS.length]!) samples[path].push(await run[path]());
  const [floor, node, workers] = [samples.floor.at(-1)!, samples.node.at(-1)!, samples.workers.at(-1)!];
  console.log(
    `${op} round ${round}: floor ${fmt(floor)}, node ${fmt(node)}, workers ${fmt(workers)} (report ${fmt(samples.reported.at(-1)!)}; ${(workers / node).toFixed(2)}× node)`,
  );
}

function printTable(kit: WorkersBenchKit, results: Map<WorkerOp, Samples>): void {
  console.log(
    `\nWorkers beside Node and the floor, ${kit.servers.toLocaleString('en')} servers × ${kit.tools} tools, ${kit.rounds} rounds (medians)`,
  );
  console.log(
    [
      '| operation | steps | floor | Node | Workers | Workers, its report | Workers/Node | rounds: Workers/Node | rounds: per step |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ].join('\n'),
  );
  for (const [op, s] of results) {
    const [node, workers] = [median(s.node), median(s.workers)];
    // Node and Workers of one round ran back to back: their ratio and difference drift less than the medians.
    const ratios = s.workers.map((w, i) => w / s.node[i]!);
    const perStepMs = s.workers.map((w, i) => ((w - s.node[i]!) * 1000) / s.steps[i]!);
    console.log(
      `| ${op} | ${median(s.steps)} | ${fmt(median(s.floor))} | ${fmt(node)} | ${fmt(workers)} | ${fmt(median(s.reported))} | ${(workers / node).toFixed(2)}× | ${median(ratios).toFixed(2)}× | ${median(perStepMs).toFixed(0)} ms |`,
    );
  }
}
