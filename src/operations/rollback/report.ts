import type { PlannedCounts, RollbackReport, RunCounts } from '../../reports/rollback.js';
import type { Outcome } from '../../reports/schemas.js';
import type { BornRow, DivergentRow, PlanCounts } from '../../sql/rollback/plan.js';
import type { ExportOutcome } from '../archive/export.js';
import { be, count } from '../text.js';
import { ROLLBACK_SIZING, type RollbackInput } from './context.js';

/** Rows listed per kind (born in v2, divergent); counts are always complete. */
export const LISTED = 1000;

/** Listed rows (at most LISTED a kind); `divergent` null where they were not listed. */
export interface Listed {
  born: BornRow[];
  divergent: DivergentRow[] | null;
}

/** The complete counts behind the listings: born rows, those of them that stay in v2, divergent rows. */
export interface Totals {
  born: number;
  staying: number;
  divergent: number | null;
}

/** What a run did so far: committed batches only. */
export interface Done {
  resources: number;
  capabilities: number;
  orphans: number;
  serversWrittenBack: number;
  toolsWrittenBack: number;
  serversBackported: number;
  toolsBackported: number;
}

export const nothingDone = (): Done => ({
  resources: 0,
  capabilities: 0,
  orphans: 0,
  serversWrittenBack: 0,
  toolsWrittenBack: 0,
  serversBackported: 0,
  toolsBackported: 0,
});

export type Batches = NonNullable<RollbackReport['batches']>;

/** A run so far: its archive's id, what its committed batches did and listed. */
export interface RunState {
  rollbackId: string;
  planId: string | null;
  done: Done;
  listed: Listed;
  totals: Totals;
  /** In-scope MCP resources still in v2 once the last batch committed (null until then). */
  remaining: number | null;
  batches: Batches;
  /** The archive's export to the report store, once the last batch committed (absent without a store). */
  exported?: ExportOutcome;
}

/** The complete counts behind listings cut at LISTED rows a kind (each row carries its kind's). */
export function totalsOf({ born, divergent }: Listed): Totals {
  const perKind = <R extends { table: string }>(rows: R[], of: (r: R) => number) =>
    [...new Map(rows.map((r) => [r.table, of(r)])).values()].reduce((a, b) => a + b, 0);
  return {
    born: perKind(born, (r) => r.total),
    staying: perKind(born, (r) => r.staying),
    divergent: divergent && perKind(divergent, (r) => r.total),
  };
}

const ARCHIVE = {
  resources: 'sark_migrate.archived_resources',
  capabilities: 'sark_migrate.archived_capabilities',
} as const;

/** A run lists divergent rows only to backport them: the dry run (the plan) lists them. */
const UNLISTED = 'listed by the dry run (the plan); the archive keeps the v2 rows';

function listings(listed: Listed, totals: Totals) {
  const born = [...listed.born]
    .sort((a, b) => a.table.localeCompare(b.table) || (a.id < b.id ? -1 : 1))
    .slice(0, LISTED);
  const bornRows = born.map((b) => ({
    table: b.table,
    id: b.id,
    outcome: b.written_back ? 'written back to v1' : 'stays in v2',
    ...(b.reason && !b.written_back ? { reason: b.reason } : {}),
  }));
  const divergent = listed.divergent
    ? {
        rows: listed.divergent.slice(0, LISTED).map(({ table, id, fields }) => ({ table, id, fields })),
        truncated: Math.min(listed.divergent.length, LISTED) < (totals.divergent ?? 0),
        listed: true,
      }
    : { rows: [], truncated: false, listed: false, note: UNLISTED };
  return { bornInV2: { rows: bornRows, truncated: bornRows.length < totals.born }, divergent };
}

function message(
  verb: string,
  removed: [number, number],
  input: RollbackInput,
  totals: Totals,
  after: { batches?: number; remaining?: number | null } = {},
): string {
  const changed =
    totals.divergent === null
      ? 'rows changed since cutover not listed (v1 keeps its values; the v2 rows are archived)'
      : `${totals.divergent} changed since cutover${input.backportChanges ? ' (backported to v1)' : ' (v1 keeps its values; the v2 rows are archived)'}`;
  const batches = after.batches === undefined ? '' : ` in ${count(after.batches, 'batch', 'batches')}`;
  const remaining = after.remaining
    ? `; ${count(after.remaining, 'MCP resource')} in scope ${be(after.remaining, 'remains', 'remain')} in v2 (born ones that stay, and any changed during the run, which a re-run takes)`
    : '';
  return `${verb} ${count(removed[0], 'MCP resource')} and ${count(removed[1], 'capability', 'capabilities')} from v2${batches}; ${count(totals.born, 'row')} born in v2 (${totals.staying} ${be(totals.staying, 'stays', 'stay')} in v2); ${changed}${remaining}.`;
}

/** A dry run's report: the plan, with the planId a run must present. */
export function planReport(
  input: RollbackInput,
  plan: { planId: string; counts: PlanCounts; listed: Listed },
): Outcome<RollbackReport> {
  const { counts: c, listed } = plan;
  const totals = totalsOf(listed);
  const tables: PlannedCounts = {
    resources: { inScope: c.resources_in_scope, v1Origin: c.resources_v1_origin, toRemove: c.resources_removed },
    capabilities: { toRemove: c.capabilities_removed + c.orphans_removed, orphans: c.orphans_removed },
  };
  const removed: [number, number] = [tables.resources.toRemove, tables.capabilities.toRemove];
  return {
    status: 'succeeded',
    summary: {
      message: message('Would remove', removed, input, totals),
      removed: removed[0] + removed[1],
      bornInV2: totals.born,
      divergent: totals.divergent,
    },
    dryRun: input.dryRun,
    planId: plan.planId,
    backportChanges: input.backportChanges,
    tables,
    ...listings(listed, totals),
    archive: { rollbackId: null, ...ARCHIVE, note: 'a run archives every removed row here, under its rollbackId' },
  };
}

/** A run's report, from its committed batches (a failed run's checkpoint too). */
export function runReport(input: RollbackInput, run: RunState): Outcome<RollbackReport> {
  const { done, totals } = run;
  const tables: RunCounts = {
    resources: {
      removed: done.resources,
      writtenBack: done.serversWrittenBack,
      backported: done.serversBackported,
      ...(run.remaining === null ? {} : { remaining: run.remaining }),
    },
    capabilities: {
      removed: done.capabilities,
      orphans: done.orphans,
      writtenBack: done.toolsWrittenBack,
      backported: done.toolsBackported,
    },
  };
  const removed: [number, number] = [done.resources, done.capabilities];
  return {
    status: 'succeeded',
    summary: {
      message:
        message('Removed', removed, input, totals, { batches: run.batches.committed, remaining: run.remaining }) +
        (run.exported?.exportStatus === 'failed'
          ? " The archive's export to the report store failed (archive.exportError): the archive stays in the database."
          : ''),
      removed: removed[0] + removed[1],
      bornInV2: totals.born,
      divergent: totals.divergent,
    },
    dryRun: input.dryRun,
    planId: run.planId,
    backportChanges: input.backportChanges,
    tables,
    ...listings(run.listed, totals),
    batches: run.batches,
    archive: { rollbackId: run.rollbackId, ...ARCHIVE, ...run.exported },
  };
}

/** No v2 resources table: nothing to plan or to remove. */
export function nothingToRollBack(input: RollbackInput): Outcome<RollbackReport> {
  const empty = input.dryRun
    ? planReport(input, {
        planId: '',
        counts: {
          resources_in_scope: 0,
          resources_removed: 0,
          resources_v1_origin: 0,
          capabilities_removed: 0,
          orphans_removed: 0,
        },
        listed: { born: [], divergent: [] },
      })
    : runReport(input, {
        rollbackId: '',
        planId: null,
        done: nothingDone(),
        listed: { born: [], divergent: [] },
        totals: { born: 0, staying: 0, divergent: 0 },
        remaining: 0,
        batches: {
          size: input.batchSize ?? ROLLBACK_SIZING.first,
          parallelism: 0,
          planned: 0,
          committed: 0,
          retries: 0,
          archivedWhole: 0,
          fellBack: 0,
        },
      });
  return {
    ...empty,
    summary: {
      message: 'There is no v2 resources table: nothing to roll back.',
      removed: 0,
      bornInV2: 0,
      divergent: 0,
    },
    planId: null,
    archive: { rollbackId: null, ...ARCHIVE, note: 'nothing was archived' },
  };
}
