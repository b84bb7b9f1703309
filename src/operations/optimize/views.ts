import type { Database, Queryable } from '../../adapters/db/types.js';
import { isServiceError, saidOf } from '../../errors.js';
import { explain, summarizePlan } from '../../measure/plan.js';
import type { Applied, Diagnosis, Measured, Recommendation } from '../../reports/optimization.js';
import { BENCHMARK_DEFAULTS, explainCostSql, PATTERNS } from '../../sql/benchmark.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import {
  buildViewSql,
  explainMatchingSql,
  explainViewSelectSql,
  plannerCostsSql,
  refreshDefinition,
  refreshViewSql,
  viewDefinition,
  viewStateSql,
  VIEW_NAMES,
  VIEWS,
  type ViewName,
} from '../../sql/views.js';
import type { Measurement } from '../benchmark.js';
import type { Lease } from '../lease.js';
import type { Inventory } from './inventory.js';
import { priorityOf } from './priority.js';
import type { OptimizeInput } from './input.js';
import { verdict } from './verdict.js';

/** The rows cross_protocol_capabilities returns: what its LIMIT stops an ordered scan after. */
const LIMIT = 100;

const staleness = (name: ViewName) =>
  `Readers of ${name} see the rows as of its last refresh: a resource or capability added, changed or removed since (a migration, a rollback, an application's write) is not in it until REFRESH MATERIALIZED VIEW CONCURRENTLY ${name} runs (POST /optimize apply with views: ["${name}"] runs and times it). /benchmark times ${VIEWS[name].pattern} through it only while it returns the same rows as the pattern itself.`;

const refreshNote = (rows: number) =>
  `REFRESH ... CONCURRENTLY runs the defining query again and compares its ~${rows.toLocaleString('en')} rows with the view's through the unique index, writing only the rows that changed; readers are not blocked, and writes to the base tables cost nothing more between refreshes.`;

/**
 * The materialized views the catalogue has for patterns whose plan says no index can serve
 * them: the original's planner cost, an upper bound of the cost through the view (it does not
 * exist yet, so nothing can plan it: one random page per row its ordered index scan reads
 * before the LIMIT is met, from the planner's estimate of the rows that pass the filter), and
 * what a refresh costs, from the defining query's plan. Read-only.
 */
export async function planViews(
  tx: Queryable,
  inv: Inventory,
  diagnoses: Record<string, Diagnosis>,
  present: Set<string>,
  only: readonly ViewName[] | undefined,
): Promise<Recommendation[]> {
  const recommendations: Recommendation[] = [];
  for (const name of only ?? VIEW_NAMES) {
    const v = VIEWS[name];
    const pattern = PATTERNS[v.pattern];
    const diagnosis = diagnoses[v.pattern];
    if (!pattern.tables.every((t) => present.has(t)) || !diagnosis) continue;
    if (!diagnosis.whyNoIndex && !only) continue; // an index may serve it: no view called for
    const evidence = diagnosis.whyNoIndex
      ? [
          `${v.pattern}: ${diagnosis.whyNoIndex.reason}`,
          `Its plan: ${diagnosis.sorts.join('; ')} over ${diagnosis.scans.join('; ')}.`,
        ]
      : [];

    const [state] = await queryRows(tx, viewStateSql(name));
    const definition = (await explain(tx, explainViewSelectSql(name))).Plan;
    const rows = Math.round(definition['Plan Rows'] ?? 0);
    const width = definition['Plan Width'] ?? 0;
    // Heap rows (a 24-byte header and a line pointer) and two b-tree indexes of ~40 bytes an entry: a rough size.
    const estimatedSizeBytes = Math.round(rows * (width + 28) + 2 * rows * 40);
    const base = {
      name,
      kind: 'materialized view' as const,
      sql: viewDefinition(name),
      origin: 'plan' as const,
      purpose: v.purpose,
      patterns: [v.pattern],
      state: state ? ('exists' as const) : ('absent' as const),
      writeOverhead: {
        table: name,
        existingIndexes: state?.indexes ?? 0,
        writesSinceStatsReset: inv.tables
          .filter((t) => t.table === 'resources' || t.table === 'capabilities')
          .reduce((n, t) => n + t.writes, 0),
        estimatedSizeBytes,
        note: 'Writes to resources and capabilities cost nothing more: the view is not kept by them, but by each refresh.',
      },
      refresh: {
        statement: refreshDefinition(name),
        estimatedRows: rows,
        definitionCost: definition['Total Cost'] ?? 0,
        measuredMs: null,
        note: `${refreshNote(rows)} Measured by apply.`,
      },
      staleness: staleness(name),
    };
    if (state) {
      recommendations.push({
        ...base,
        evidence,
        evaluation: { method: 'exists', reason: `${name} already exists${state.populated ? '' : ' (not populated)'}.` },
        priority: 'none',
      });
      continue;
    }
    const costBefore = summarizePlan(await explain(tx, explainCostSql(pattern, BENCHMARK_DEFAULTS))).totalCost;
    const matching = (await explain(tx, explainMatchingSql(name, BENCHMARK_DEFAULTS))).Plan['Plan Rows'] ?? 0;
    const unit = await queryOne(tx, plannerCostsSql());
    const perRow = Number(unit.randomPage) + Number(unit.tuple) + Number(unit.indexTuple) + Number(unit.operator);
    const read = Math.min(rows, Math.ceil((LIMIT * rows) / Math.max(matching, 1)));
    const costAfter = Math.round(read * perRow * 100) / 100;
    const reduction = costBefore > 0 ? Math.round((1 - costAfter / costBefore) * 1000) / 1000 : 0;
    const probes = [{ query: v.pattern, costBefore, costAfter, reduction, usesIndex: true }];
    const change = `${reduction >= 0 ? '−' : '+'}${Math.abs(reduction * 100).toFixed(1)}%`;
    recommendations.push({
      ...base,
      evidence: [
        ...evidence,
        `Through ${name} and ${v.orderIndex.name} ${v.orderIndex.on}, an index scan returns rows already in that order and stops once ${LIMIT} pass the filter: ~${read.toLocaleString('en')} of ~${rows.toLocaleString('en')} rows read (the planner expects ~${Math.round(matching).toLocaleString('en')} to pass).`,
        `${v.pattern}: planner cost ${costBefore.toFixed(1)} → at most ${costAfter.toFixed(1)} (${change}), estimated: one random page per row read.`,
        `Refresh: the defining query's planner cost is ${base.refresh.definitionCost.toFixed(1)} for ~${rows.toLocaleString('en')} rows; ${refreshNote(rows)}`,
        `Staleness: ${staleness(name)}`,
      ],
      evaluation: {
        method: 'estimated',
        reason: 'A materialized view cannot be planned before it exists: the cost through it is an upper bound.',
        probes,
        estimatedSizeBytes,
      },
      priority: priorityOf(probes),
    });
  }
  return recommendations;
}

const figures = (r: Measurement): Measured => ({
  p50Ms: r.p50Ms,
  p95Ms: r.p95Ms,
  indexes: r.indexes,
  ...(r.error ? { error: r.error } : {}),
});

/** Times REFRESH MATERIALIZED VIEW CONCURRENTLY; a failure is a note, the view stays as it was. */
async function timedRefresh(db: Database, name: ViewName, input: OptimizeInput): Promise<number | string> {
  const started = performance.now();
  try {
    await db.transaction((tx) => execute(tx, refreshViewSql(name)), {
      lockTimeoutMs: input.lockTimeoutMs,
      statementTimeoutMs: input.buildTimeoutMs,
    });
    return Math.round(performance.now() - started);
  } catch (error) {
    return saidOf(error);
  }
}

/**
 * One view: the pattern timed, the view built in one fenced transaction (created with its data,
 * its unique and order indexes, analyzed: a failure anywhere rolls all of it back, and the base
 * tables only ever get ACCESS SHARE locks, so their writers go on), a REFRESH ... CONCURRENTLY
 * timed, then the pattern timed through the view. A view that exists is refreshed and timed.
 */
export async function applyView(
  db: Database,
  lease: Lease,
  name: ViewName,
  input: OptimizeInput,
  measure: (query: string) => Promise<Measurement>,
  measurePattern: (pattern: string) => Promise<Measurement>,
): Promise<Applied> {
  const v = VIEWS[name];
  const [state] = await queryRows(db, viewStateSql(name));
  if (state?.populated) {
    await lease.renew();
    const refreshed = await timedRefresh(db, name, input);
    return typeof refreshed === 'number'
      ? {
          name,
          kind: 'materialized view',
          sql: refreshDefinition(name),
          status: 'refreshed',
          refreshMs: refreshed,
          notes: [`${name} already existed: refreshed concurrently in ${refreshed} ms.`],
          patterns: [],
        }
      : {
          name,
          kind: 'materialized view',
          sql: refreshDefinition(name),
          status: 'failed',
          error: refreshed,
          notes: [`${name} exists; its refresh failed and left it as it was.`],
          patterns: [],
        };
  }

  const before = await measure(v.pattern);
  const started = performance.now();
  try {
    await lease.fenced(
      async (tx) => {
        for (const statement of buildViewSql(name)) await execute(tx, statement);
      },
      { lockTimeoutMs: input.lockTimeoutMs, statementTimeoutMs: input.buildTimeoutMs },
    );
  } catch (error) {
    if (isServiceError(error, 'lease-lost')) throw error;
    const left = (await queryRows(db, viewStateSql(name)).catch(() => [{}])).length > 0;
    return {
      name,
      kind: 'materialized view',
      sql: viewDefinition(name),
      status: 'failed',
      error: saidOf(error),
      notes: [
        left
          ? `The build failed, and ${name} exists: run DROP MATERIALIZED VIEW ${name} if it is not someone else's.`
          : 'The build failed in its transaction, which was rolled back: nothing was left behind.',
      ],
      patterns: [{ query: v.pattern, before: figures(before) }],
    };
  }
  const buildMs = Math.round(performance.now() - started);
  const refreshed = await timedRefresh(db, name, input);
  const after = await measurePattern(v.pattern);
  const through = after.via === name;
  const verdictOf = verdict(before, after);
  const helped = through && verdictOf === 'faster';
  return {
    name,
    kind: 'materialized view',
    sql: viewDefinition(name),
    status: 'built',
    buildMs,
    ...(typeof refreshed === 'number' ? { refreshMs: refreshed } : {}),
    notes: [
      `Built in one transaction in ${buildMs} ms (populated, ${v.uniqueIndex.name} and ${v.orderIndex.name} built, analyzed).`,
      typeof refreshed === 'number'
        ? `${refreshDefinition(name)} took ${refreshed} ms right after, with nothing to change: about what every refresh costs at this size.`
        : `${refreshDefinition(name)} failed: ${refreshed}`,
      through
        ? `${v.pattern} timed through ${name} (the same rows as the pattern's own statement, checked).`
        : `${v.pattern} was not timed through ${name}: ${after.viaSkipped?.reason ?? 'it is missing'}`,
    ],
    patterns: [
      {
        query: v.pattern,
        before: figures(before),
        after: figures(after),
        usesIndex: after.indexes.includes(v.orderIndex.name),
        verdict: verdictOf,
      },
    ],
    helped,
    conclusion: helped ? 'faster through the view' : 'did not measurably help the pattern it was meant for',
  };
}
