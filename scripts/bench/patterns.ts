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
  iterations: number;
  warmup: number;
  patterns?: PatternName[];
}

/** The fixed cost of one round trip through each client: the same measurement on a statement that does nothing. */
const CALIBRATION: Query = { description: 'SELECT 1', targetMs: null, tables: [], sql: 'SELECT 1', values: () => [] };

export async function benchPatterns(db: Database, url: string, options: PatternsBenchOptions): Promise<void> {
  const names = options.patterns ?? PATTERN_NAMES;
  const service: Record<string, number[]> = {};
  const server: Record<string, number[]> = {};
  const pgbench: Record<string, number[]> = {};
  const last: Record<string, PatternResult> = {};
  for (let round = 1; round <= options.rounds; round++) {
    for (const name of names) {
      const input = { patterns: [name], iterations: options.iterations, warmup: options.warmup, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 600_000 };
      const outcome = await benchmark(db, input, null, detachedContext());
      const result = (outcome.details.results as PatternResult[])[0]!;
      if (result.p50Ms === null) throw new Error(`${name}: ${result.reason ?? result.error}`);
      last[name] = result;
      (service[name] ??= []).push(result.p50Ms);
      (server[name] ??= []).push(result.serverMs!.p50);
      const statement = withLiterals(PATTERNS[name].sql, PATTERNS[name].values(BENCHMARK_DEFAULTS));
      (pgbench[name] ??= []).push(quantile((await pgbenchLatencies(url, statement, options.warmup, options.iterations)).sort((a, b) => a - b), 0.5));
    }
    const calibration = await measureQuery(db, 'SELECT 1', CALIBRATION, { iterations: options.iterations, warmup: options.warmup, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 60_000 }, detachedContext());
    (service['SELECT 1'] ??= []).push(calibration.p50Ms!);
    (pgbench['SELECT 1'] ??= []).push(quantile((await pgbenchLatencies(url, 'SELECT 1', options.warmup, options.iterations)).sort((a, b) => a - b), 0.5));
    console.log(`patterns round ${round} done`);
  }
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  console.log(`\n/benchmark beside pgbench (-M extended, 1 client): p50 of ${options.iterations} runs after ${options.warmup} warm-up, median of ${options.rounds} rounds`);
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
