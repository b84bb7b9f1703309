import type { Database, Queryable, Session } from '../adapters/db/types.js';
import { explainOutput, summarizePlan, whyNoIndex } from '../measure/plan.js';
import { V2_TABLES } from '../sql/catalog.js';
import { BENCHMARK_DEFAULTS, PATTERN_NAMES, PATTERNS, type Query } from '../sql/benchmark.js';
import { existingTables } from '../sql/introspection.js';
import {
  analyzeSql,
  CANDIDATE_NAMES,
  CANDIDATES,
  createIndexSql,
  dropIndexSql,
  explainCostSql,
  hypopgSql,
  indexInventorySql,
  indexStateSql,
  PROBES,
  statsSinceSql,
  tableStatsSql,
  unindexedForeignKeysSql,
  type CandidateName,
} from '../sql/optimize.js';
import { measureQuery, REGRESSION, type PatternResult } from './benchmark.js';
import type { OperationContext, OperationOutcome } from './runner.js';

export const OPTIMIZE_ACTIONS = ['analyze', 'plan', 'apply'] as const;
export type OptimizeAction = (typeof OPTIMIZE_ACTIONS)[number];

export interface OptimizeInput {
  action: OptimizeAction;
  indexes?: CandidateName[] | undefined;
  iterations: number;
  warmup: number;
  lockTimeoutMs: number;
  buildTimeoutMs: number;
  verifyTargets: boolean;
}

const QUERIES: Record<string, Query> = { ...PATTERNS, ...PROBES };
const READ_LIMITS = { readOnly: true, statementTimeoutMs: 120_000 } as const;
/** How long dropping an INVALID index left by a failed build may wait for locks. */
const CLEANUP_LOCK_TIMEOUT_MS = 60_000;

// ---- analyze -------------------------------------------------------------------------------

type IndexRow = {
  table: string;
  name: string;
  method: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  constraint: string | null;
  definition: string;
  keys: string[];
  predicate: string;
  sizeBytes: string | number;
  scans: string | number;
  duplicateOf: string | null;
};

async function inventory(db: Queryable) {
  const tables = [...V2_TABLES];
  const indexRows = (await db.query<IndexRow>(indexInventorySql, [tables])).rows;
  const indexes = indexRows.map((i) => {
    const enforces = i.unique || i.primary || i.constraint !== null; // it keeps data correct, whatever its use
    const flags = [
      ...(!i.valid ? ['invalid'] : []),
      ...(Number(i.scans) === 0 && !enforces ? ['unused'] : []),
      ...(i.duplicateOf && !enforces ? ['duplicate'] : []),
    ];
    return {
      table: i.table, name: i.name, method: i.method, definition: i.definition, keys: i.keys, predicate: i.predicate || null,
      sizeBytes: Number(i.sizeBytes), scans: Number(i.scans), valid: i.valid, unique: i.unique, primary: i.primary,
      constraint: i.constraint, duplicateOf: enforces ? null : i.duplicateOf, flags,
    };
  });
  type TableRow = { table: string; totalBytes: string; tableBytes: string; indexBytes: string; liveRows: string; seqScans: string; indexScans: string; writes: string; lastAnalyzed: Date | string | null };
  const tableRows = (await db.query<TableRow>(tableStatsSql, [tables])).rows.map((t) => ({
    table: t.table,
    totalBytes: Number(t.totalBytes), tableBytes: Number(t.tableBytes), indexBytes: Number(t.indexBytes), liveRows: Number(t.liveRows),
    seqScans: Number(t.seqScans), indexScans: Number(t.indexScans), writes: Number(t.writes),
    lastAnalyzed: t.lastAnalyzed === null ? null : new Date(t.lastAnalyzed).toISOString(),
    flags: t.lastAnalyzed === null ? ['never analyzed'] : [],
  }));
  const foreignKeysWithoutIndex = (await db.query<{ table: string; constraint: string; references: string; columns: string[] }>(unindexedForeignKeysSql, [tables])).rows;
  const since = (await db.query<{ statsSince: Date | string | null }>(statsSinceSql)).rows[0]?.statsSince ?? null;
  return { indexes, tables: tableRows, foreignKeysWithoutIndex, statsSince: since === null ? null : new Date(since).toISOString() };
}
type Inventory = Awaited<ReturnType<typeof inventory>>;

const flagged = (inv: Inventory, flag: string) => inv.indexes.filter((i) => i.flags.includes(flag)).map((i) => i.name);

// ---- plan ----------------------------------------------------------------------------------

const planOf = async (db: Queryable, query: Query) =>
  explainOutput((await db.query<{ 'QUERY PLAN': unknown }>(explainCostSql(query.sql), query.values(BENCHMARK_DEFAULTS))).rows[0]!['QUERY PLAN']);

interface ProbeEvaluation {
  query: string;
  costBefore: number;
  costAfter: number;
  /** 1 − after/before: the planner's saving with the index. */
  reduction: number;
  usesIndex: boolean;
}

/**
 * The planner's cost of each query the candidate serves, without and with it as a HypoPG
 * hypothetical index: backend-local, nothing is built, and it is reset before and after.
 */
async function hypothetically(tx: Queryable, name: CandidateName, queries: string[]) {
  await tx.query('SELECT hypopg_reset()');
  try {
    const probes: ProbeEvaluation[] = [];
    const before = new Map<string, number>();
    for (const q of queries) before.set(q, summarizePlan(await planOf(tx, QUERIES[q]!)).totalCost);
    const { indexrelid } = (await tx.query<{ indexrelid: number }>('SELECT indexrelid FROM hypopg_create_index($1)', [createIndexSql(name, { concurrently: false })])).rows[0]!;
    const size = Number((await tx.query<{ size: string }>('SELECT hypopg_relation_size($1::oid)::bigint AS size', [indexrelid])).rows[0]!.size);
    for (const q of queries) {
      const after = summarizePlan(await planOf(tx, QUERIES[q]!));
      const costBefore = before.get(q)!;
      probes.push({
        query: q,
        costBefore,
        costAfter: after.totalCost,
        reduction: costBefore > 0 ? Math.round((1 - after.totalCost / costBefore) * 1000) / 1000 : 0,
        usesIndex: after.indexes.some((i) => i.startsWith(`<${indexrelid}>`)),
      });
    }
    return { probes, estimatedSizeBytes: size };
  } finally {
    await tx.query('SELECT hypopg_reset()');
  }
}

/** high / medium / low by the planner's best saving on a query that uses the index; none when it saves nothing. */
function priorityOf(probes: ProbeEvaluation[]): 'high' | 'medium' | 'low' | 'none' {
  const best = Math.max(0, ...probes.filter((p) => p.usesIndex).map((p) => p.reduction));
  return best >= 0.9 ? 'high' : best >= 0.5 ? 'medium' : best >= 0.1 ? 'low' : 'none';
}

const PRIORITY_ORDER = ['high', 'medium', 'low', 'unknown', 'none'];

async function plan(db: Database, inv: Inventory, only: CandidateName[] | undefined) {
  const present = await existingTables(db, [...V2_TABLES]);
  const hypopg = (await db.query<{ installed: boolean; available: boolean }>(hypopgSql)).rows[0]!;
  return db.transaction(async (tx) => {
    // Evidence from the patterns' own plans (EXPLAIN without ANALYZE: cheap).
    const diagnoses: Record<string, { scans: string[]; sequentialScans: string[]; sorts: string[]; whyNoIndex: ReturnType<typeof whyNoIndex> }> = {};
    for (const name of PATTERN_NAMES) {
      if (!PATTERNS[name].tables.every((t) => present.has(t))) continue;
      const explain = await planOf(tx, PATTERNS[name]);
      const summary = summarizePlan(explain);
      diagnoses[name] = {
        scans: summary.scans.map((s) => `${s.node}${s.relation ? ` on ${s.relation}` : ''}${s.index ? ` using ${s.index}` : ''}`),
        sequentialScans: summary.sequentialScans,
        sorts: summary.sorts.map((x) => `${x.node} by ${x.keys.join(', ')}`),
        whyNoIndex: whyNoIndex(explain),
      };
    }

    const recommendations = [];
    for (const name of only ?? CANDIDATE_NAMES) {
      const c = CANDIDATES[name];
      if (!present.has(c.table)) continue;
      const serves = c.serves.filter((q) => QUERIES[q]!.tables.every((t) => present.has(t)));
      const evidence: string[] = [];
      if (c.origin === 'seed') evidence.push(`One of SARK's four recommended indexes: ${c.purpose.toLowerCase()}.`);
      // A plan-derived candidate is proposed only where a pattern's plan shows the need for it.
      for (const q of serves) {
        const d = diagnoses[q];
        if (!d) continue;
        if (d.sequentialScans.includes(c.table)) evidence.push(`${q} reads ${c.table} with a sequential scan.`);
        else if (d.sorts.length > 0 && !d.whyNoIndex) evidence.push(`${q} reads its rows in another order and sorts them before its LIMIT (${d.sorts.join('; ')}; ${d.scans.join('; ')}).`);
      }
      if (c.origin === 'plan' && evidence.length === 0 && !only) continue;

      const existing = inv.indexes.find((i) => i.name === name);
      const table = inv.tables.find((t) => t.table === c.table);
      let evaluation: { method: 'exists' | 'hypopg' | 'unevaluated'; reason?: string; probes?: ProbeEvaluation[]; estimatedSizeBytes?: number };
      let priority: string;
      if (existing?.valid) {
        evaluation = { method: 'exists', reason: `${name} already exists.` };
        priority = 'none';
      } else if (hypopg.installed && c.method === 'btree') {
        const { probes, estimatedSizeBytes } = await hypothetically(tx, name, serves);
        evaluation = { method: 'hypopg', probes, estimatedSizeBytes };
        priority = priorityOf(probes);
        for (const p of probes) {
          evidence.push(`${p.query}: planner cost ${p.costBefore.toFixed(1)} → ${p.costAfter.toFixed(1)} (${p.reduction >= 0 ? '−' : '+'}${Math.abs(p.reduction * 100).toFixed(1)}%)${p.usesIndex ? '' : ', and the plan does not use the index'}.`);
        }
      } else {
        const reason = !hypopg.installed
          ? hypopg.available
            ? 'HypoPG is available on this server but not installed in this database (CREATE EXTENSION hypopg); apply measures the index instead.'
            : 'HypoPG is not available on this server (PGlite and many hosted databases lack it); apply measures the index instead.'
          : `HypoPG cannot simulate ${c.method} indexes; apply measures the index instead.`;
        evaluation = { method: 'unevaluated', reason };
        priority = 'unknown';
      }
      const estimatedSize = evaluation.estimatedSizeBytes ?? null;
      recommendations.push({
        name,
        sql: createIndexSql(name, { concurrently: true }),
        origin: c.origin,
        purpose: c.purpose,
        patterns: serves,
        evidence,
        evaluation,
        priority,
        state: existing ? (existing.valid ? 'exists' : 'invalid (apply rebuilds it)') : 'absent',
        writeOverhead: {
          table: c.table,
          existingIndexes: inv.indexes.filter((i) => i.table === c.table).length,
          writesSinceStatsReset: table?.writes ?? 0,
          estimatedSizeBytes: estimatedSize,
          note: `Every insert, and every update of an indexed column${c.on.includes('WHERE') ? ' that matches the predicate' : ''}, writes one more index entry into ${c.table}.`,
        },
      });
    }
    recommendations.sort((a, b) => PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority));
    return { hypopg, recommendations, diagnoses };
  }, READ_LIMITS);
}

// ---- apply ---------------------------------------------------------------------------------

const measureOptions = (input: OptimizeInput) => ({ iterations: input.iterations, warmup: input.warmup, params: BENCHMARK_DEFAULTS, statementTimeoutMs: 120_000 });

function verdict(before: PatternResult, after: PatternResult): 'faster' | 'slower' | 'no measurable change' | 'not measured' {
  if (before.p50Ms === null || after.p50Ms === null) return 'not measured';
  const beyond = (slow: number, fast: number) => slow / Math.max(fast, 1e-6) > REGRESSION.ratio && slow - fast > REGRESSION.minMs;
  return beyond(before.p50Ms, after.p50Ms) ? 'faster' : beyond(after.p50Ms, before.p50Ms) ? 'slower' : 'no measurable change';
}

/** Runs fn with session-level timeouts, restoring the previous values after (the connection goes back to a pool). */
async function withSessionTimeouts<T>(session: Session, lockTimeoutMs: number, statementTimeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const previous = (await session.query<{ lock: string; statement: string }>(`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement`)).rows[0]!;
  await session.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [`${lockTimeoutMs}ms`, `${statementTimeoutMs}ms`]);
  try {
    return await fn();
  } finally {
    await session.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [previous.lock, previous.statement]);
  }
}

const indexState = async (db: Queryable, name: CandidateName) => (await db.query<{ valid: boolean }>(indexStateSql, [name])).rows[0] ?? null;

/**
 * CREATE INDEX CONCURRENTLY outside any transaction, with lock and statement timeouts. A
 * failed concurrent build leaves an INVALID index behind: it is dropped (concurrently, with a
 * longer lock wait) so the table is as before. An INVALID index from an earlier run is rebuilt.
 */
async function build(session: Session, name: CandidateName, input: OptimizeInput) {
  const notes: string[] = [];
  const before = await indexState(session, name);
  if (before?.valid) return { status: 'exists' as const, notes: [`${name} already exists and is valid: nothing built.`] };
  if (before && !before.valid) {
    await withSessionTimeouts(session, CLEANUP_LOCK_TIMEOUT_MS, input.buildTimeoutMs, () => session.query(dropIndexSql(name)));
    notes.push(`An INVALID ${name} from an earlier build was dropped first.`);
  }
  const started = performance.now();
  try {
    await withSessionTimeouts(session, input.lockTimeoutMs, input.buildTimeoutMs, () => session.query(createIndexSql(name, { concurrently: true })));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const left = await indexState(session, name);
    if (left && !left.valid) {
      await withSessionTimeouts(session, CLEANUP_LOCK_TIMEOUT_MS, input.buildTimeoutMs, () => session.query(dropIndexSql(name)));
      notes.push('The build failed and left an INVALID index; it was dropped.');
    }
    return { status: 'failed' as const, error: message, notes };
  }
  const buildMs = Math.round(performance.now() - started);
  await session.query(analyzeSql(CANDIDATES[name].table));
  return { status: 'built' as const, buildMs, notes: [...notes, `Built concurrently in ${buildMs} ms, then ANALYZE ${CANDIDATES[name].table}.`] };
}

const figures = (r: PatternResult) => ({ p50Ms: r.p50Ms, p95Ms: r.p95Ms, indexes: r.indexes, ...(r.error ? { error: r.error } : {}) });

interface Applied {
  name: CandidateName;
  status: 'built' | 'exists' | 'failed' | 'skipped';
  helped?: boolean;
  [field: string]: unknown;
}

async function apply(db: Database, input: OptimizeInput, requestCtx: OperationContext) {
  const chosen = input.indexes!;
  // A change runs to its end once begun: a client going away must not stop it between a build and its measurement.
  const ctx = { ...requestCtx, signal: undefined };
  return db.withAdvisoryLock(async (session) => {
    const present = await existingTables(session, [...V2_TABLES]);
    ctx.started();
    const applied: Applied[] = [];
    let step = 0;
    const total = chosen.length + (input.verifyTargets ? 1 : 0);
    for (const name of chosen) {
      const c = CANDIDATES[name];
      if (!present.has(c.table)) {
        applied.push({ name, status: 'skipped', reason: `table ${c.table} missing`, patterns: [] });
        continue;
      }
      const serves = c.serves.filter((q) => QUERIES[q]!.tables.every((t) => present.has(t)));
      const before: PatternResult[] = [];
      for (const q of serves) before.push(await measureQuery(db, q, QUERIES[q]!, measureOptions(input), ctx));
      const outcome = await build(session, name, input);
      const after: PatternResult[] = [];
      if (outcome.status === 'built') for (const q of serves) after.push(await measureQuery(db, q, QUERIES[q]!, measureOptions(input), ctx));
      const patterns = serves.map((q, i) => ({
        query: q,
        before: figures(before[i]!),
        ...(after[i] ? { after: figures(after[i]), usesIndex: after[i].indexes.includes(name), verdict: verdict(before[i]!, after[i]) } : {}),
      }));
      const helped = patterns.some((p) => p.verdict === 'faster' && p.usesIndex);
      applied.push({
        name,
        sql: createIndexSql(name, { concurrently: true }),
        ...outcome,
        patterns,
        ...(outcome.status === 'built' ? { helped, conclusion: helped ? 'faster where it is used' : 'did not measurably help any query it was meant for: consider dropping it' } : {}),
      });
      ctx.checkpoint({ applied });
      ctx.progress({ done: ++step, total });
    }

    // Every pattern with a runbook target, measured now; for one that misses, why from its plan.
    const targets = [];
    if (input.verifyTargets) {
      for (const name of PATTERN_NAMES) {
        const p = PATTERNS[name];
        if (p.targetMs === null || !p.tables.every((t) => present.has(t))) continue;
        const r = await measureQuery(db, name, p, measureOptions(input), ctx);
        const why = r.withinTarget === false ? whyNoIndex(explainOutput((await db.query<{ 'QUERY PLAN': unknown }>(explainCostSql(p.sql), p.values(BENCHMARK_DEFAULTS))).rows[0]!['QUERY PLAN'])) : null;
        targets.push({ pattern: name, targetMs: p.targetMs, p50Ms: r.p50Ms, p95Ms: r.p95Ms, withinTarget: r.withinTarget, indexes: r.indexes, ...(r.withinTarget === false ? { whyNoIndex: why } : {}) });
      }
      ctx.progress({ done: ++step, total });
    }
    return { applied, targets };
  });
}

// ---- the operation -------------------------------------------------------------------------

/**
 * POST /optimize. `analyze`: the index inventory with flags. `plan`: candidates, evaluated
 * with HypoPG where it is installed; changes nothing. `apply`: builds the named indexes
 * concurrently under the advisory lock and measures the queries they serve before and after.
 */
export async function optimize(db: Database, input: OptimizeInput, ctx: OperationContext): Promise<OperationOutcome> {
  if (input.action === 'apply') {
    const { applied, targets } = await apply(db, input, ctx);
    const inv = await inventory(db);
    const failed = applied.filter((a) => a.status === 'failed').map((a) => a.name);
    const built = applied.filter((a) => a.status === 'built');
    const missed = targets.filter((t) => t.withinTarget === false).map((t) => t.pattern);
    return {
      status: failed.length ? 'failed' : 'succeeded',
      summary: {
        message:
          `Built ${built.length} of ${applied.length} indexes${failed.length ? ` (failed: ${failed.join(', ')}; nothing INVALID was left)` : ''}; ` +
          `${built.filter((a) => a.helped).length} made a query they serve measurably faster.` +
          (input.verifyTargets ? ` ${targets.length - missed.length} of ${targets.length} patterns with a target meet it at p95${missed.length ? ` (missed: ${missed.join(', ')}; see targets[].whyNoIndex)` : ''}.` : ''),
        built: built.length,
        failed: failed.length,
        invalidIndexes: flagged(inv, 'invalid').length,
      },
      details: { action: input.action, indexes: inv.indexes, recommendations: [], applied, targets },
    };
  }
  const inv = await inventory(db);
  ctx.started();
  const findings = { unused: flagged(inv, 'unused'), duplicate: flagged(inv, 'duplicate'), invalid: flagged(inv, 'invalid'), foreignKeysWithoutIndex: inv.foreignKeysWithoutIndex.length };
  const base = { action: input.action, indexes: inv.indexes, tables: inv.tables, foreignKeysWithoutIndex: inv.foreignKeysWithoutIndex, statsSince: inv.statsSince, applied: [] };
  const analyzed = `${inv.indexes.length} indexes: ${findings.unused.length} unused, ${findings.duplicate.length} duplicate, ${findings.invalid.length} INVALID; ${findings.foreignKeysWithoutIndex} foreign keys without an index`;
  if (input.action === 'analyze') {
    return { status: 'succeeded', summary: { message: `${analyzed}.`, ...findings }, details: { ...base, recommendations: [] } };
  }
  const planned = await plan(db, inv, input.indexes);
  const worth = planned.recommendations.filter((r) => r.priority === 'high' || r.priority === 'medium').map((r) => r.name);
  return {
    status: 'succeeded',
    summary: {
      message: `${analyzed}. ${planned.recommendations.length} candidate indexes (${planned.hypopg.installed ? 'evaluated with HypoPG' : 'HypoPG not installed: unevaluated'}); ${worth.length} worth building${worth.length ? `: ${worth.join(', ')}` : ''}.`,
      ...findings,
      recommended: worth,
    },
    details: { ...base, hypopg: planned.hypopg, recommendations: planned.recommendations, diagnoses: planned.diagnoses },
  };
}
