/**
 * /optimize at benchmark size: every pattern timed, then plan and apply, then timed again,
 * side by side with what SARK's own --optimize does to the same database.
 */
import pg from 'pg';
import type { Database } from '../../src/adapters/db/types.js';
import { benchmark } from '../../src/operations/benchmark.js';
import { optimize } from '../../src/operations/optimize/index.js';
import { detachedContext } from '../../src/operations/runner.js';
import { BENCHMARK_DEFAULTS, PATTERN_NAMES } from '../../src/sql/benchmark.js';
import { indexDefinition } from '../../src/sql/optimize.js';
import { VIEWS, type ViewName } from '../../src/sql/views.js';

const timeAll = async (db: Database, iterations: number) =>
  (
    await benchmark(
      db,
      { patterns: [...PATTERN_NAMES], iterations, warmup: 3, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 600_000 },
      null,
      detachedContext(),
    )
  ).results;

/** SARK's tool runs each CREATE INDEX CONCURRENTLY in a SQLAlchemy transaction: what that gives. */
async function sarkOptimize(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(indexDefinition('ix_resources_protocol_active', { concurrently: true }));
    await client.query('COMMIT');
    return 'built';
  } catch (error) {
    await client.query('ROLLBACK');
    return (error as Error).message;
  } finally {
    await client.end();
  }
}

export async function benchOptimize(db: Database, url: string, options: { iterations: number }): Promise<void> {
  await db.query('CREATE EXTENSION IF NOT EXISTS hypopg');
  console.log(`SARK's --optimize, first index: ${await sarkOptimize(url)}`);
  const before = await timeAll(db, options.iterations);

  const plan = await optimize(
    db,
    { action: 'plan', iterations: 1, warmup: 0, lockTimeoutMs: 5_000, buildTimeoutMs: 1_800_000, verifyTargets: false },
    detachedContext(),
  );
  const recs = plan.recommendations;
  console.log('\n/optimize plan (HypoPG):\n| candidate | origin | priority | evidence |\n|---|---|---|---|');
  for (const r of recs) console.log(`| ${r.name} | ${r.origin} | ${r.priority} | ${r.evidence.join(' ')} |`);

  const worth = recs.filter((r) => r.priority === 'high' || r.priority === 'medium').map((r) => r.name);
  const isView = (name: string): name is ViewName => name in VIEWS;
  const chosen = worth.filter((name) => !isView(name)) as Exclude<(typeof worth)[number], ViewName>[];
  const views = worth.filter(isView);
  const started = performance.now();
  const applied = await optimize(
    db,
    {
      action: 'apply',
      indexes: chosen,
      views,
      iterations: options.iterations,
      warmup: 3,
      lockTimeoutMs: 5_000,
      buildTimeoutMs: 1_800_000,
      verifyTargets: true,
    },
    detachedContext(),
  );
  console.log(
    `\napply ${worth.join(', ')}: ${String(applied.summary.message)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  for (const a of applied.applied) {
    for (const p of a.patterns)
      console.log(
        `  ${a.name} (${a.status}${a.buildMs ? `, ${(a.buildMs / 1000).toFixed(1)} s` : ''}${a.refreshMs ? `, REFRESH CONCURRENTLY ${(a.refreshMs / 1000).toFixed(1)} s` : ''}): ${p.query} p50 ${p.before.p50Ms} → ${p.after?.p50Ms ?? '–'} ms (${p.verdict ?? 'not measured'})`,
      );
  }

  const after = await timeAll(db, options.iterations);
  const why = new Map((applied.targets ?? []).map((t) => [t.pattern, t.whyNoIndex]));
  const ms = (x: number | null) => (x === null ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
  console.log(
    `\n/optimize before/after: p50 / p95 of ${options.iterations} runs (ms)\n| pattern | target | before | after | met after | indexes after | via (the pattern's own statement after) | why not |\n|---|---:|---:|---:|---|---|---|---|`,
  );
  for (const b of before) {
    const a = after.find((r) => r.pattern === b.pattern)!;
    const reason =
      a.withinTarget === false
        ? (why.get(b.pattern)?.reason ??
          "its plan's shape gives no reason: see the plan's diagnoses and apply's measurements")
        : '';
    console.log(
      `| ${b.pattern} | ${b.targetMs ?? '–'} | ${ms(b.p50Ms)} / ${ms(b.p95Ms)} | ${ms(a.p50Ms)} / ${ms(a.p95Ms)} | ${a.withinTarget === null ? '–' : a.withinTarget ? 'yes' : 'no'} | ${a.indexes.join(', ') || '(none)'} | ${a.via ? `${a.via} (${ms(a.original?.p50Ms ?? null)} / ${ms(a.original?.p95Ms ?? null)}, same rows)` : (a.viaSkipped?.reason ?? '')} | ${reason} |`,
    );
  }
}
