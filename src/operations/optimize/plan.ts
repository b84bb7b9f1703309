import type { Database, Queryable } from '../../adapters/db/types.js';
import { explain, heapLookups, summarizePlan, whyNoIndex, type ExplainOutput } from '../../measure/plan.js';
import {
  BENCHMARK_DEFAULTS,
  explainCostSql,
  measuredPlanSql,
  PATTERN_NAMES,
  PATTERNS,
  type PatternName,
  type Query,
} from '../../sql/benchmark.js';
import { V2_TABLES } from '../../sql/catalog.js';
import { existingTables } from '../../sql/introspection.js';
import {
  CANDIDATE_NAMES,
  CANDIDATES,
  hypopgSql,
  hypotheticalIndexSql,
  hypotheticalSizeSql,
  indexDefinition,
  PROBES,
  resetHypotheticalSql,
  type CandidateName,
} from '../../sql/optimize.js';
import { execute, queryOne } from '../../sql/sql.js';
import type {
  Diagnosis,
  Evaluation,
  Priority,
  ProbeEvaluation,
  Recommendation,
  ServedStatement,
  WorkloadReport,
} from '../../reports/optimization.js';
import type { ViewName } from '../../sql/views.js';
import type { Inventory } from './inventory.js';
import { priorityOf, PRIORITY_ORDER } from './priority.js';
import { planViews } from './views.js';
import {
  isPlanned,
  planEach,
  planWithoutValues,
  readWorkload,
  statementLabel,
  type GenericPlan,
  type Workload,
  type WorkloadStatement,
} from './workload.js';

/** Everything an index may serve: the benchmark's patterns and the probes. */
export const QUERIES: Record<string, Query> = { ...PATTERNS, ...PROBES };

/** A sequential scan that keeps less than this share of its table is a filter an index could serve. */
const SELECTIVE = 0.05;

const planOf = (db: Queryable, query: Query): Promise<ExplainOutput> =>
  explain(db, explainCostSql(query, BENCHMARK_DEFAULTS));

/**
 * HypoPG's hypothetical indexes live in the backend, outside transactions, and the connection
 * goes back to a pool: reset before use, and after even when the transaction has failed (then
 * the reset itself fails, and the next plan's reset at its start clears what is left).
 */
const resetHypothetical = (tx: Queryable) => execute(tx, resetHypotheticalSql());

/** A workload statement on the candidate's table, with its generic plan's cost without the candidate. */
interface OnTable {
  statement: WorkloadStatement;
  costBefore: number;
}

const reductionOf = (before: number, after: number) =>
  before > 0 ? Math.round((1 - after / before) * 1000) / 1000 : 0;

/**
 * The planner's cost of each query the candidate serves, without and with it as a hypothetical
 * index; and of each workload statement on its table with it (without: its plan from before),
 * kept where the plan uses it. The candidates it is meant to go `together` with are hypothetical
 * beside it.
 */
async function hypothetically(
  tx: Queryable,
  name: CandidateName,
  queries: readonly string[],
  workload: readonly OnTable[],
  partners: readonly CandidateName[],
): Promise<Pick<Evaluation, 'probes' | 'estimatedSizeBytes'> & { statements: ServedStatement[] }> {
  await resetHypothetical(tx);
  try {
    const before = new Map<string, number>();
    for (const q of queries) before.set(q, summarizePlan(await planOf(tx, QUERIES[q]!)).totalCost);
    const { indexrelid } = await queryOne(tx, hypotheticalIndexSql(name));
    const size = Number((await queryOne(tx, hypotheticalSizeSql(indexrelid))).size);
    for (const partner of partners) await queryOne(tx, hypotheticalIndexSql(partner));
    const hypothetical = (indexes: readonly string[]) => indexes.some((i) => i.startsWith(`<${indexrelid}>`)); // HypoPG names them <oid>method_table_columns
    const probes: ProbeEvaluation[] = [];
    for (const q of queries) {
      const after = summarizePlan(await planOf(tx, QUERIES[q]!));
      const costBefore = before.get(q)!;
      probes.push({
        query: q,
        costBefore,
        costAfter: after.totalCost,
        reduction: reductionOf(costBefore, after.totalCost),
        usesIndex: hypothetical(after.indexes),
      });
    }
    const statements: ServedStatement[] = [];
    for (const { statement: s, costBefore } of workload) {
      const after = await planWithoutValues(tx, s);
      if (!isPlanned(after) || !hypothetical(after.indexes)) continue;
      statements.push({
        queryid: s.queryid,
        query: s.query,
        calls: s.calls,
        meanExecMs: s.meanExecMs,
        costBefore,
        costAfter: after.cost,
        reduction: reductionOf(costBefore, after.cost),
      });
    }
    return { probes, estimatedSizeBytes: size, statements };
  } finally {
    await resetHypothetical(tx).catch(() => undefined);
  }
}

const thousands = (n: number) => n.toLocaleString('en');

/** "capabilities: 6,686 rows through capabilities_pkey in 6,686 lookups, each fetched from the table (26,754 pages, 9,437 read from outside shared buffers)". */
const lookupText = (l: ReturnType<typeof heapLookups>[number]) =>
  `${l.relation}: ${thousands(l.rows)} rows through ${l.index}${l.lookups > 1 ? ` in ${thousands(l.lookups)} lookups` : ''}, each fetched from the table${l.buffers ? ` (${thousands(l.buffers.hit + l.buffers.read)} pages, ${thousands(l.buffers.read)} read from outside shared buffers)` : ''}`;

function diagnose(explain: ExplainOutput, inv: Inventory): Diagnosis {
  const summary = summarizePlan(explain);
  const rowsOf = (table: string) => inv.tables.find((t) => t.table === table)?.estimatedRows ?? 0;
  return {
    scans: summary.scans.map(
      (s) => `${s.node}${s.relation ? ` on ${s.relation}` : ''}${s.index ? ` using ${s.index}` : ''}`,
    ),
    selectiveSequentialScans: summary.scans
      .filter(
        (s) =>
          s.node === 'Seq Scan' &&
          s.relation &&
          s.filtered &&
          rowsOf(s.relation) > 0 &&
          s.estimatedRows / rowsOf(s.relation) < SELECTIVE,
      )
      .map((s) => `${s.relation} (keeps ~${s.estimatedRows} of ${rowsOf(s.relation!)} rows)`),
    sorts: summary.sorts.map((x) => `${x.node} by ${x.keys.join(', ')}`),
    whyNoIndex: whyNoIndex(explain),
    heapLookups: heapLookups(explain).map(lookupText),
    measuredMs: summary.executionMs === null ? null : Math.round(summary.executionMs * 100) / 100,
  };
}

/** The pattern's plan: run once (EXPLAIN ANALYZE) where it has a runbook target to be measured against. */
const diagnosisPlanOf = (tx: Queryable, name: PatternName) =>
  explain(
    tx,
    (PATTERNS[name].targetMs === null ? explainCostSql : measuredPlanSql)(PATTERNS[name], BENCHMARK_DEFAULTS),
  );

/** The patterns whose one run in this plan took longer than their runbook target. */
const overTarget = (diagnoses: Record<string, Diagnosis>) =>
  new Set(
    PATTERN_NAMES.filter((name) => {
      const ms = diagnoses[name]?.measuredMs;
      const target = PATTERNS[name].targetMs;
      return target !== null && ms !== null && ms !== undefined && ms > target;
    }),
  );

function unevaluatedReason(hypopg: { installed: boolean; available: boolean }, method: string): string {
  if (hypopg.installed) return `HypoPG cannot simulate ${method} indexes; apply measures the index instead.`;
  return hypopg.available
    ? 'HypoPG is available on this server but not installed in this database (CREATE EXTENSION hypopg); apply measures the index instead.'
    : 'HypoPG is not available on this server (PGlite and many hosted databases lack it); apply measures the index instead.';
}

const percentChange = (reduction: number) => `${reduction >= 0 ? '−' : '+'}${Math.abs(reduction * 100).toFixed(1)}%`;

/** The evidence line of a workload statement the candidate serves. */
const servedEvidence = (s: ServedStatement) =>
  `${statementLabel(s)} (${s.calls} calls, mean ${s.meanExecMs.toFixed(2)} ms, from pg_stat_statements): generic-plan cost ${s.costBefore.toFixed(1)} → ${s.costAfter.toFixed(1)} (${percentChange(s.reduction)}).`;

/** The workload as the report gives it: each statement with its plan now and the candidates whose index it uses, or would. */
function workloadReport(
  workload: Workload,
  plans: ReadonlyMap<string, GenericPlan>,
  recommendations: readonly Recommendation[],
): WorkloadReport {
  return {
    source: 'pg_stat_statements',
    state: workload.state,
    ...(workload.reason ? { reason: workload.reason } : {}),
    statements: workload.statements.map((s) => {
      const plan = plans.get(s.queryid);
      // A catalogue index its plan reads now (it exists), or one HypoPG showed its plan would read.
      const servedBy = CANDIDATE_NAMES.filter(
        (name) =>
          (isPlanned(plan) && plan.indexes.includes(name)) ||
          recommendations.some((r) => r.name === name && (r.statements ?? []).some((x) => x.queryid === s.queryid)),
      );
      return {
        queryid: s.queryid,
        query: s.query,
        calls: s.calls,
        totalExecMs: s.totalExecMs,
        meanExecMs: s.meanExecMs,
        rows: s.rows,
        parameters: s.parameters,
        planCost: isPlanned(plan) ? plan.cost : null,
        ...(plan && !isPlanned(plan) ? { skipped: plan.skipped } : {}),
        servedBy,
      };
    }),
  };
}

/**
 * Candidates with their evidence, read-only: SARK's four always, a plan-derived one only where a
 * pattern's plan shows the need (a selective sequential scan of its table, or a sort an index
 * order would spare) or, with HypoPG, where a statement of the workload (pg_stat_statements) uses
 * it; each costed with HypoPG where it is installed, on the patterns and on the workload.
 * Identifiers still come only from the catalogue: the workload chooses among candidates, it
 * never makes one.
 */
export async function plan(
  db: Database,
  inv: Inventory,
  named: { indexes?: readonly CandidateName[] | undefined; views?: readonly ViewName[] | undefined } = {},
) {
  // Named either way: only those; named neither way: every candidate index and view.
  const only = named.indexes ?? (named.views ? [] : undefined);
  const onlyViews = named.views ?? (named.indexes ? [] : undefined);
  const present = await existingTables(db, [...V2_TABLES]);
  const hypopg = await queryOne(db, hypopgSql());
  const workload = await readWorkload(db);
  return db.transaction(
    async (tx) => {
      if (hypopg.installed) await resetHypothetical(tx);
      const diagnoses: Record<string, Diagnosis> = {};
      for (const name of PATTERN_NAMES) {
        if (PATTERNS[name].tables.every((t) => present.has(t)))
          diagnoses[name] = diagnose(await diagnosisPlanOf(tx, name), inv);
      }
      const missing = overTarget(diagnoses);
      // Each workload statement's generic plan now: its cost, and the cost before for every candidate.
      const plans = await planEach(tx, workload.statements);
      const onTable = (table: string): OnTable[] =>
        workload.statements.flatMap((statement) => {
          const p = plans.get(statement.queryid);
          return statement.tables.includes(table) && isPlanned(p) ? [{ statement, costBefore: p.cost }] : [];
        });

      const recommendations: Recommendation[] = [];
      for (const name of only ?? CANDIDATE_NAMES) {
        const c = CANDIDATES[name];
        if (!present.has(c.table)) continue;
        const serves = c.serves.filter((q) => QUERIES[q]!.tables.every((t) => present.has(t)));
        const evidence: string[] =
          c.origin === 'seed' ? [`One of SARK's four recommended indexes: ${c.purpose.toLowerCase()}.`] : [];
        for (const q of serves) {
          const d = diagnoses[q];
          if (!d) continue;
          const scan = d.selectiveSequentialScans.find((s) => s.startsWith(`${c.table} `));
          const lookups = 'covering' in c ? d.heapLookups?.find((l) => l.startsWith(`${c.table}: `)) : undefined;
          if (missing.has(q as PatternName))
            evidence.push(
              `${q} took ${d.measuredMs} ms in one run here, over its runbook target of ${QUERIES[q]!.targetMs} ms.`,
            );
          if (scan) evidence.push(`${q} reads all of ${scan} with a sequential scan.`);
          else if (lookups) evidence.push(`${q} reads ${lookups}; this index would answer them from the index alone.`);
          else if (d.sorts.length > 0 && !d.whyNoIndex && !('covering' in c))
            evidence.push(
              `${q} reads its rows in another order and sorts them before its LIMIT (${d.sorts.join('; ')}; ${d.scans.join('; ')}).`,
            );
        }
        const existing = inv.indexes.find((i) => i.name === name);
        const evaluable = !existing?.valid && hypopg.installed && c.method === 'btree';
        // A plan-derived candidate no pattern needs is still weighed when the workload reads its table.
        const needed = c.origin === 'seed' || evidence.length > 0 || only !== undefined;
        const workloadOnTable = evaluable ? onTable(c.table) : [];
        if (!needed && workloadOnTable.length === 0) continue;

        let evaluation: Evaluation;
        let priority: Priority;
        let statements: ServedStatement[] = [];
        if (existing?.valid) {
          evaluation = { method: 'exists', reason: `${name} already exists.` };
          priority = 'none';
        } else if (evaluable) {
          const partners = ('together' in c ? (c.together as readonly CandidateName[]) : []).filter(
            (p) => !inv.indexes.some((i) => i.name === p && i.valid),
          );
          const evaluated = await hypothetically(tx, name, serves, workloadOnTable, partners);
          statements = evaluated.statements;
          evaluation = { method: 'hypopg', probes: evaluated.probes, estimatedSizeBytes: evaluated.estimatedSizeBytes };
          if (partners.length)
            evidence.push(
              `Evaluated with ${partners.join(', ')} also in place: they serve the same join, and the saving below is theirs together.`,
            );
          priority = priorityOf(
            [...evaluation.probes!, ...statements.map((s) => ({ reduction: s.reduction, usesIndex: true }))],
            missing,
          );
          for (const p of evaluation.probes!) {
            evidence.push(
              `${p.query}: planner cost ${p.costBefore.toFixed(1)} → ${p.costAfter.toFixed(1)} (${percentChange(p.reduction)})${p.usesIndex ? '' : ', and the plan does not use the index'}.`,
            );
          }
          evidence.push(...statements.map(servedEvidence));
        } else {
          evaluation = { method: 'unevaluated', reason: unevaluatedReason(hypopg, c.method) };
          priority = 'unknown';
        }
        if (!needed && statements.length === 0) continue;
        recommendations.push({
          name,
          kind: 'index',
          sql: indexDefinition(name, { concurrently: true }),
          origin: c.origin,
          purpose: c.purpose,
          patterns: serves,
          evidence,
          evaluation,
          priority,
          state: existing ? (existing.valid ? 'exists' : 'invalid') : 'absent',
          ...(statements.length ? { statements } : {}),
          writeOverhead: {
            table: c.table,
            existingIndexes: inv.indexes.filter((i) => i.table === c.table).length,
            writesSinceStatsReset: inv.tables.find((t) => t.table === c.table)?.writes ?? 0,
            estimatedSizeBytes: evaluation.estimatedSizeBytes ?? null,
            note: `Every insert, and every update of an indexed column${c.on.includes('WHERE') ? ' that matches the predicate' : ''}, writes one more index entry into ${c.table}.`,
          },
        });
      }
      recommendations.push(...(await planViews(tx, inv, diagnoses, present, onlyViews)));
      recommendations.sort((a, b) => PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority));
      return { hypopg, recommendations, diagnoses, workload: workloadReport(workload, plans, recommendations) };
    },
    { readOnly: true, statementTimeoutMs: 120_000 },
  );
}
