/**
 * /benchmark beside pgbench: for each pattern, the service's p50 round trip and pgbench's p50
 * latency for the same statement on the same data, alternating, one connection each.
 * pgbench runs in extended-protocol mode, as the service's driver does, with the bound values
 * written into the statement as literals; its per-transaction log gives the percentiles.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Database } from '../../src/adapters/db/types.js';
import { quantile } from '../../src/measure/stats.js';
import { benchmark, measureQuery, type PatternResult } from '../../src/operations/benchmark.js';
import { detachedContext } from '../../src/operations/runner.js';
import { BENCHMARK_DEFAULTS, PATTERN_NAMES, PATTERNS, type PatternName, type Query } from '../../src/sql/benchmark.js';

const run = promisify(execFile);

/** pgbench from PATH, $PGBENCH, or PostgreSQL's Debian bin folders. */
function pgbenchPath(): string {
  if (process.env.PGBENCH) return process.env.PGBENCH;
  for (const version of ['17', '16', '15', '14']) {
    const candidate = `/usr/lib/postgresql/${version}/bin/pgbench`;
    if (existsSync(candidate)) return candidate;
  }
  return 'pgbench';
}

/** A bound value as an SQL literal, for pgbench's copy of the statement (the bench's own defaults only). */
function literal(value: unknown): string {
  const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `ARRAY[${value.map((v) => quote(String(v))).join(', ')}]::text[]`;
  return quote(String(value));
}

function withLiterals(sql: string, values: unknown[]): string {
  // One pass over the statement, so a literal that holds "$1" is never substituted again.
  return sql.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1])).replace(/\s+/g, ' ');
}

async function pgbenchLatencies(url: string, sql: string, warmup: number, iterations: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sark-pgbench-'));
  try {
    const script = join(dir, 'pattern.sql');
    await writeFile(script, `${sql};\n`);
    await run(pgbenchPath(), ['-n', '-M', 'extended', '-c', '1', '-t', String(warmup + iterations), '-f', script, '-l', `--log-prefix=${join(dir, 'log')}`, url], { cwd: dir });
    const log = (await readdir(dir)).find((f) => f.startsWith('log'));
    const lines = (await readFile(join(dir, log!), 'utf8')).trim().split('\n');
    // client_id transaction_no latency_us script_no epoch epoch_us
    return lines.slice(warmup).map((line) => Number(line.split(' ')[2]) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

export interface PatternsBenchOptions {
  rounds: number;
  /** Timed runs per round of a statement that takes 10 ms or more. */
  iterations: number;
  /** Timed runs per round of a faster one: 20 runs of a 0.5 ms statement last 10 ms, too short to rise above the machine's noise. */
  fastIterations: number;
  warmup: number;
  patterns?: PatternName[];
}

/** The fixed cost of one round trip through each client: the same measurement on a statement that does nothing. */
const CALIBRATION: Query = { description: 'SELECT 1', targetMs: null, tables: [], sql: 'SELECT 1', values: () => [] };
const FAST_MS = 10;
const BLOCKS = 10;

/**
 * Each round times every statement through the service and through pgbench, one after the
 * other, in turn first (odd rounds the service, even rounds pgbench), so that neither always
 * runs on a machine the other has just warmed or cooled. A pass before the first round, not
 * counted, warms both sides (JIT, caches, plans) and sorts the statements into fast and slow.
 */
export async function benchPatterns(db: Database, url: string, options: PatternsBenchOptions): Promise<void> {
  const names = options.patterns ?? PATTERN_NAMES;
  const statements: [string, Query][] = [['SELECT 1', CALIBRATION], ...names.map((name): [string, Query] => [name, PATTERNS[name]])];
  const service: Record<string, number[]> = {};
  const server: Record<string, number[]> = {};
  const pgbench: Record<string, number[]> = {};
  const last: Record<string, PatternResult> = {};
  /** Statements under FAST_MS, as the warm-up pass found them. */
  const fastOnes = new Set<string>();
  const measure = { warmup: options.warmup, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 600_000 };
  /** One measurement each way, back to back, in the order given: the service's result and pgbench's p50. */
  const pair = async (name: string, query: Query, iterations: number, serviceFirst: boolean): Promise<[PatternResult, number]> => {
    const viaService = async () => {
      // A pattern through the endpoint's own operation; the calibration through the function it calls per pattern.
      const result =
        query === CALIBRATION
          ? await measureQuery(db, name, query, { ...measure, iterations }, detachedContext())
          : ((await benchmark(db, { ...measure, iterations, patterns: [name as PatternName] }, null, detachedContext())).details.results as PatternResult[])[0]!;
      if (result.p50Ms === null) throw new Error(`${name}: ${result.reason ?? result.error}`);
      return result;
    };
    const viaPgbench = async () => median(await pgbenchLatencies(url, withLiterals(query.sql, query.values(BENCHMARK_DEFAULTS)), options.warmup, iterations));
    if (serviceFirst) return [await viaService(), await viaPgbench()];
    const latency = await viaPgbench();
    return [await viaService(), latency];
  };
  for (let round = 0; round <= options.rounds; round++) {
    for (const [name, query] of statements) {
      const fast = fastOnes.has(name);
      // A fast statement's runs come in BLOCKS short pairs, each in the other order, so that a drift of the machine within the round touches both sides alike.
      const pairs: [PatternResult, number][] = [];
      for (let block = 0; block < (fast ? BLOCKS : 1); block++) {
        pairs.push(await pair(name, query, fast ? Math.ceil(options.fastIterations / BLOCKS) : options.iterations, (round + block) % 2 === 1));
      }
      const result = pairs.at(-1)![0];
      if (round === 0) {
        if (result.p50Ms! < FAST_MS) fastOnes.add(name);
        continue;
      }
      const p50 = median(pairs.map(([r]) => r.p50Ms!));
      const latency = median(pairs.map(([, l]) => l));
      const serverP50 = median(pairs.map(([r]) => r.serverMs?.p50 ?? NaN));
      last[name] = result;
      (service[name] ??= []).push(p50);
      (server[name] ??= []).push(serverP50);
      (pgbench[name] ??= []).push(latency);
    }
    console.log(round === 0 ? 'patterns: warm-up pass done' : `patterns round ${round} done`);
  }
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  console.log(`\n/benchmark beside pgbench (-M extended, 1 client): p50 of ${options.iterations} runs (statements under ${FAST_MS} ms: ${options.fastIterations} runs in ${BLOCKS} alternating blocks, the median of the blocks' p50s) after ${options.warmup} warm-up, median of ${options.rounds} rounds taken in alternating order, after an uncounted warm-up pass`);
  console.log('| pattern | pgbench p50 | service p50 (round trip) | ratio | difference | server execution p50 | service p95 | target | met | indexes |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  const [b1, s1] = [median(pgbench['SELECT 1']!), median(service['SELECT 1']!)];
  const diff = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)} ms`;
  console.log(`| (calibration) SELECT 1 | ${ms(b1)} ms | ${ms(s1)} ms | ${(s1 / b1).toFixed(2)}× | ${diff(s1 - b1)} | | | | | |`);
  for (const name of names) {
    const [b, s] = [median(pgbench[name]!), median(service[name]!)];
    const r = last[name]!;
    console.log(
      `| ${name} | ${ms(b)} ms | ${ms(s)} ms | ${(s / b).toFixed(2)}× | ${diff(s - b)} | ${ms(median(server[name]!))} ms | ${ms(r.p95Ms!)} ms | ${r.targetMs ?? '–'} | ${r.withinTarget === null ? '–' : r.withinTarget ? 'yes' : 'no'} | ${r.indexes.join(', ') || '(none)'} |`,
    );
  }
}
