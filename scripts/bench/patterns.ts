/**
 * /benchmark beside pgbench: for each pattern, the service's p50 round trip and pgbench's p50
 * latency for the same statement on the same data, in pairs of back-to-back measurements.
 * pgbench runs in extended-protocol mode, as the service's driver does, and binds the same
 * values as parameters (`:pN` variables set with -D, in the text the driver sends); its
 * per-transaction log gives the percentiles. This machine's speed drifts by up to 2× within a
 * second, so the figure is the median of the pairs' ratios, with its 95% interval.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Database } from '../../src/adapters/db/types.js';
import { medianInterval, quantile, type MedianInterval } from '../../src/measure/stats.js';
import { benchmark, measureQuery, type Measurement } from '../../src/operations/benchmark.js';
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

/** node-postgres' own encoding of a bound value (arrays as array literals, objects as JSON), which it exports untyped. */
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): string | null } }).utils.prepareValue;

/**
 * The statement as a pgbench script: each $n becomes the variable :pn, which pgbench in
 * extended mode sends as a bound parameter, and -D gives it the text node-postgres sends.
 */
function pgbenchScript(sql: string, values: unknown[]): { script: string; defines: string[] } {
  return {
    script: `${sql.replace(/\$(\d+)/g, (_, n: string) => `:p${n}`).replace(/\s+/g, ' ')};\n`,
    defines: values.flatMap((v, i) => ['-D', `p${i + 1}=${prepareValue(v) ?? ''}`]),
  };
}

async function pgbenchLatencies(
  url: string,
  sql: string,
  values: unknown[],
  warmup: number,
  iterations: number,
): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sark-pgbench-'));
  try {
    const script = join(dir, 'pattern.sql');
    const { script: text, defines } = pgbenchScript(sql, values);
    await writeFile(script, text);
    await run(
      pgbenchPath(),
      [
        '-n',
        '-M',
        'extended',
        '-c',
        '1',
        '-t',
        String(warmup + iterations),
        ...defines,
        '-f',
        script,
        '-l',
        `--log-prefix=${join(dir, 'log')}`,
        url,
      ],
      { cwd: dir },
    );
    const log = (await readdir(dir)).find((f) => f.startsWith('log'));
    const lines = (await readFile(join(dir, log!), 'utf8')).trim().split('\n');
    // client_id transaction_no latency_us script_no epoch epoch_us
    return lines.slice(warmup).map((line) => Number(line.split(' ')[2]) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

export interface PatternsBenchOptions {
  rounds: number;
  /** Timed runs per round of a statement that takes 10 ms or more, in SLOW_BLOCKS pairs. */
  iterations: number;
  /** Timed runs per round of a faster one, in BLOCKS pairs: 20 runs of a 0.5 ms statement last 10 ms, far shorter than the machine's drifts. */
  fastIterations: number;
  warmup: number;
  patterns?: PatternName[];
}

/** The fixed cost of one round trip through each client: the same measurement on a statement that does nothing. */
const CALIBRATION: Query = { description: 'SELECT 1', targetMs: null, tables: [], sql: 'SELECT 1', values: () => [] };
const FAST_MS = 10;
const BLOCKS = 20;
const SLOW_BLOCKS = 4;

/** One pair: the service's and pgbench's measurement of a statement, back to back. */
interface Pair {
  service: Measurement;
  pgbenchP50: number;
}

/**
 * Each round times every statement through the service and through pgbench, back to back,
 * in pairs: BLOCKS short ones for a fast statement, SLOW_BLOCKS for a slow one. Each pair goes in the other
 * order from the one before, so that neither side always runs on a machine the other has just
 * warmed or cooled. A pass before the first round, not counted, warms both sides (JIT, caches,
 * plans) and sorts the statements into fast and slow.
 *
 * Why the median of the pairs' ratios: two measurements a few milliseconds apart see the same
 * machine, while blocks a second apart can differ by 2× here, so medians taken over each side
 * separately (the ratio of medians) compare different machines.
 */
export async function benchPatterns(db: Database, url: string, options: PatternsBenchOptions): Promise<void> {
  const names = options.patterns ?? PATTERN_NAMES;
  const statements: [string, Query][] = [
    ['SELECT 1', CALIBRATION],
    ...names.map((name): [string, Query] => [name, PATTERNS[name]]),
  ];
  const pairs: Record<string, Pair[]> = {};
  /** Statements under FAST_MS, as the warm-up pass found them. */
  const fastOnes = new Set<string>();
  const measure = { warmup: options.warmup, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 600_000 };
  let order = 0;
  /** One measurement each way, back to back, taking turns at going first. */
  const pair = async (name: string, query: Query, iterations: number): Promise<Pair> => {
    const viaService = async () => {
      // A pattern through the endpoint's own operation; the calibration through the function it calls per pattern.
      const result =
        query === CALIBRATION
          ? await measureQuery(db, name, query, { ...measure, iterations }, detachedContext())
          : (await benchmark(db, { ...measure, iterations, patterns: [name as PatternName] }, null, detachedContext()))
              .results[0]!;
      if (result.p50Ms === null) throw new Error(`${name}: ${result.reason ?? result.error}`);
      return result;
    };
    const viaPgbench = async () =>
      median(await pgbenchLatencies(url, query.sql, query.values(BENCHMARK_DEFAULTS), options.warmup, iterations));
    if (order++ % 2 === 0) return { service: await viaService(), pgbenchP50: await viaPgbench() };
    const pgbenchP50 = await viaPgbench();
    return { service: await viaService(), pgbenchP50 };
  };
  for (let round = 0; round <= options.rounds; round++) {
    for (const [name, query] of statements) {
      const fast = fastOnes.has(name);
      const taken: Pair[] = [];
      for (let block = 0; block < (fast ? BLOCKS : SLOW_BLOCKS); block++) {
        taken.push(
          await pair(
            name,
            query,
            fast ? Math.ceil(options.fastIterations / BLOCKS) : Math.ceil(options.iterations / SLOW_BLOCKS),
          ),
        );
      }
      if (round === 0) {
        if (taken.at(-1)!.service.p50Ms! < FAST_MS) fastOnes.add(name);
        continue;
      }
      (pairs[name] ??= []).push(...taken);
    }
    console.log(round === 0 ? 'patterns: warm-up pass done' : `patterns round ${round} done`);
  }
  printTable(names, pairs, options, fastOnes);
}

function printTable(
  names: readonly string[],
  pairs: Record<string, Pair[]>,
  options: PatternsBenchOptions,
  fastOnes: Set<string>,
): void {
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  const diff = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)} ms`;
  const ratio = (r: MedianInterval) => `${r.median.toFixed(2)}× (${r.low.toFixed(2)}–${r.high.toFixed(2)})`;
  console.log(
    `\n/benchmark beside pgbench (-M extended, 1 client, the same statement and bound values), ${options.rounds} rounds after an uncounted warm-up pass: ` +
      `statements of ${FAST_MS} ms or more, ${SLOW_BLOCKS} pairs of ${Math.ceil(options.iterations / SLOW_BLOCKS)} runs each way per round; faster ones, ${BLOCKS} pairs of ${Math.ceil(options.fastIterations / BLOCKS)} runs; ${options.warmup} warm-up runs before each. ` +
      "Ratio: the median of the pairs' ratios of p50s, with its 95% interval.",
  );
  console.log(
    '| pattern | pairs | pgbench p50 | service p50 (round trip) | ratio (95% interval) | difference | server execution p50 | service p95 | target | met | indexes |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
  for (const name of ['SELECT 1', ...names]) {
    const taken = pairs[name]!;
    const service = taken.map((p) => p.service.p50Ms!);
    const pgbench = taken.map((p) => p.pgbenchP50);
    const r = taken.at(-1)!.service;
    const cells = [
      name === 'SELECT 1' ? '(calibration) SELECT 1' : name,
      `${taken.length}${fastOnes.has(name) ? '' : ' (slow)'}`,
      `${ms(median(pgbench))} ms`,
      `${ms(median(service))} ms`,
      ratio(medianInterval(taken.map((p) => p.service.p50Ms! / p.pgbenchP50))),
      diff(median(taken.map((p) => p.service.p50Ms! - p.pgbenchP50))),
      ...(name === 'SELECT 1'
        ? ['', '', '', '', '']
        : [
            `${ms(median(taken.map((p) => p.service.serverMs?.p50 ?? NaN)))} ms`,
            `${ms(r.p95Ms!)} ms`,
            String(r.targetMs ?? '–'),
            r.withinTarget === null ? '–' : r.withinTarget ? 'yes' : 'no',
            r.indexes.join(', ') || '(none)',
          ]),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
}
