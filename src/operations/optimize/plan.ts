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
import type { Diagnosis, Evaluation, Priority, ProbeEvaluation, Recommendation } from '../../reports/optimization.js';
import type { ViewName } from '../../sql/views.js';
import type { Inventory } from './inventory.js';
import { priorityOf, PRIORITY_ORDER } from './priority.js';
import { planViews } from './views.js';

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

/**
 * The planner's cost of each query the candidate serves, without and with it as a hypothetical
 * index; the candidates it is meant to go `together` with are hypothetical beside it.
 */
async function hypothetically(
  tx: Queryable,
  name: CandidateName,
  queries: readonly string[],
  partners: readonly CandidateName[],
): Promise<Pick<Evaluation, 'probes' | 'estimatedSizeBytes'>> {
  await resetHypothetical(tx);
  try {
    const before = new Map<string, number>();
    for (const q of queries) before.set(q, summarizePlan(await planOf(tx, QUERIES[q]!)).totalCost);
    const { indexrelid } = await queryOne(tx, hypotheticalIndexSql(name));
    const size = Number((await queryOne(tx, hypotheticalSizeSql(indexrelid))).size);
    for (const partner of partners) await queryOne(tx, hypotheticalIndexSql(partner));
    const probes: ProbeEvaluation[] = [];
    for (const q of queries) {
      const after = summarizePlan(await planOf(tx, QUERIES[q]!));
      const costBefore = before.get(q)!;
      probes.push({
        query: q,
        costBefore,
        costAfter: after.totalCost,
        reduction: costBefore > 0 ? Math.round((1 - after.totalCost / costBefore) * 1000) / 1000 : 0,
        usesIndex: after.indexes.some((i) => i.startsWith(`<${indexrelid}>`)), // HypoPG names them <oid>method_table_columns
      });
    }
    return { probes, estimatedSizeBytes: size };
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

/**
 * Candidates with their evidence, read-only: SARK's four always, a plan-derived one only where a
 * pattern's plan shows the need (a selective sequential scan of its table, or a sort an index
 * order would spare), each costed with HypoPG where it is installed.
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
  return db.transaction(
    async (tx) => {
      if (hypopg.installed) await resetHypothetical(tx);
      const diagnoses: Record<string, Diagnosis> = {};
      for (const name of PATTERN_NAMES) {
        if (PATTERNS[name].tables.every((t) => present.has(t)))
          diagnoses[name] = diagnose(await diagnosisPlanOf(tx, name), inv);
      }
      const missing = overTarget(diagnoses);

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
        if (c.origin === 'plan' && evidence.length === 0 && !only) continue;

        const existing = inv.indexes.find((i) => i.name === name);
        let evaluation: Evaluation;
        let priority: Priority;
        if (existing?.valid) {
          evaluation = { method: 'exists', reason: `${name} already exists.` };
          priority = 'none';
        } else if (hypopg.installed && c.method === 'btree') {
          const partners = ('together' in c ? (c.together as readonly CandidateName[]) : []).filter(
            (p) => !inv.indexes.some((i) => i.name === p && i.valid),
          );
          evaluation = { method: 'hypopg', ...(await hypothetically(tx, name, serves, partners)) };
          if (partners.length)
            evidence.push(
              `Evaluated with ${partners.join(', ')} also in place: they serve the same join, and the saving below is theirs together.`,
            );
          priority = priorityOf(evaluation.probes!, missing);
          for (const p of evaluation.probes!) {
            const change = `${p.reduction >= 0 ? '−' : '+'}${Math.abs(p.reduction * 100).toFixed(1)}%`;
            evidence.push(
              `${p.query}: planner cost ${p.costBefore.toFixed(1)} → ${p.costAfter.toFixed(1)} (${change})${p.usesIndex ? '' : ', and the plan does not use the index'}.`,
            );
          }
        } else {
          evaluation = { method: 'unevaluated', reason: unevaluatedReason(hypopg, c.method) };
          priority = 'unknown';
        }
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
      return { hypopg, recommendations, diagnoses };
    },
    { readOnly: true, statementTimeoutMs: 120_000 },
  );
}
