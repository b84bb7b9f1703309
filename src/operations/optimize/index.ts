import type { Database } from '../../adapters/db/types.js';
import type { Applied, Choice, OptimizationReport, WorkloadReport } from '../../reports/optimization.js';
import type { Outcome } from '../../reports/schemas.js';
import type { OperationContext } from '../runner.js';
import { count } from '../text.js';
import { apply } from './apply.js';
import type { PlanChoice } from './choose.js';
import { flagged, inventory } from './inventory.js';
import type { OptimizeInput } from './input.js';
import { plan } from './plan.js';

const indexes = (n: number) => count(n, 'index', 'indexes');
/** "3 indexes", or "4 (3 indexes and 1 materialized view)" where views were applied too. */
const remedies = (applied: readonly Applied[]) => {
  const views = applied.filter((a) => a.kind === 'materialized view').length;
  const ix = indexes(applied.length - views);
  if (!views) return ix;
  const mv = count(views, 'materialized view');
  return views === applied.length ? mv : `${applied.length} (${ix} and ${mv})`;
};

/** What apply took from the plan when no index was named, and why; or that the plan has nothing worth building. */
function chosenFromPlan({ selection, hypopg }: PlanChoice): string {
  const listed = (choices: Choice[]) => choices.map((c) => `${c.name} (${c.priority})`).join(', ');
  if (selection.chosen.length)
    return `No index named: applied the current plan's high- and medium-priority recommendations, ${listed(selection.chosen)}.`;
  const unevaluated = hypopg.installed
    ? ''
    : ' HypoPG is not installed, so no candidate could be evaluated: name them in `indexes` to build and measure them.';
  return `No index named, and the current plan has no high- or medium-priority recommendation${selection.passedOver.length ? ` (${listed(selection.passedOver)})` : ''}: nothing to apply.${unevaluated}`;
}

/** The workload's line of a plan's message: how many statements were read and served, or why none were. */
function workloadSummary(workload: WorkloadReport): string {
  if (workload.state !== 'used') return `Workload (pg_stat_statements) ${workload.state}: ${workload.reason}`;
  const served = workload.statements.filter((s) => s.servedBy.length > 0).length;
  const skipped = workload.statements.filter((s) => s.skipped !== undefined).length;
  return `Workload: ${count(workload.statements.length, 'statement')} on the v2 tables from pg_stat_statements, ${served} served by a candidate${skipped ? `, ${skipped} not plannable without values` : ''}.`;
}

export type { OptimizeInput } from './input.js';

/**
 * POST /optimize. `analyze`: the index inventory with flags. `plan`: candidates, evaluated
 * with HypoPG where it is installed; changes nothing. `apply`: builds the named indexes (none
 * named: the plan's high- and medium-priority ones) concurrently under the advisory lock and
 * measures the queries they serve before and after.
 */
export async function optimize(
  db: Database,
  input: OptimizeInput,
  ctx: OperationContext<OptimizationReport>,
): Promise<Outcome<OptimizationReport>> {
  if (input.action === 'apply') {
    const { applied, targets, cleaned, planned } = await apply(db, input, ctx);
    const inv = await inventory(db);
    const invalid = flagged(inv, 'invalid');
    const failed = applied.filter((a) => a.status === 'failed').map((a) => a.name);
    const built = applied.filter((a) => a.status === 'built');
    const missed = targets.filter((t) => t.withinTarget === false).map((t) => t.pattern);
    const message = [
      ...(planned ? [chosenFromPlan(planned)] : []),
      ...(applied.length
        ? [
            `Built ${built.length} of ${remedies(applied)}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}; ${built.filter((a) => a.helped).length} made a query they serve measurably faster.`,
          ]
        : []),
      invalid.length ? `INVALID indexes remain: ${invalid.join(', ')}.` : 'No index is INVALID.',
      ...(cleaned.length ? [`Dropped INVALID leftovers of earlier builds: ${cleaned.join(', ')}.`] : []),
      ...(input.verifyTargets && applied.length
        ? [
            `${targets.length - missed.length} of ${count(targets.length, 'pattern')} with a target meet it at p95${missed.length ? ` (missed: ${missed.join(', ')}; see targets[].whyNoIndex)` : ''}.`,
          ]
        : []),
    ].join(' ');
    return {
      status: failed.length ? 'failed' : 'succeeded',
      summary: {
        message,
        built: built.length,
        failed: failed.length,
        invalidIndexes: invalid.length,
        ...(planned ? { recommended: planned.selection.chosen.map((c) => c.name) } : {}),
      },
      action: input.action,
      indexes: inv.indexes,
      recommendations: planned?.recommendations ?? [],
      ...(planned ? { hypopg: planned.hypopg, selection: planned.selection, workload: planned.workload } : {}),
      applied,
      targets,
      cleanedUp: cleaned,
    };
  }

  const inv = await inventory(db);
  ctx.started();
  const findings = {
    unused: flagged(inv, 'unused'),
    duplicate: flagged(inv, 'duplicate'),
    invalid: flagged(inv, 'invalid'),
    foreignKeysWithoutIndex: inv.foreignKeysWithoutIndex.length,
  };
  const analyzed = `${indexes(inv.indexes.length)}: ${findings.unused.length} unused, ${findings.duplicate.length} duplicate, ${findings.invalid.length} INVALID; ${count(findings.foreignKeysWithoutIndex, 'foreign key')} without an index`;
  const base = {
    action: input.action,
    indexes: inv.indexes,
    tables: inv.tables,
    foreignKeysWithoutIndex: inv.foreignKeysWithoutIndex,
    statsSince: inv.statsSince,
    applied: [],
  };
  if (input.action === 'analyze')
    return {
      status: 'succeeded',
      summary: { message: `${analyzed}.`, ...findings },
      ...base,
      recommendations: [],
    };

  const planned = await plan(db, inv, { indexes: input.indexes, views: input.views });
  const worth = planned.recommendations
    .filter((r) => r.priority === 'high' || r.priority === 'medium')
    .map((r) => r.name);
  const how = planned.hypopg.installed ? 'evaluated with HypoPG' : 'HypoPG not installed: unevaluated';
  return {
    status: 'succeeded',
    summary: {
      message: `${analyzed}. ${count(planned.recommendations.length, 'candidate index', 'candidate indexes')} (${how}); ${worth.length} worth building${worth.length ? `: ${worth.join(', ')}` : ''}. ${workloadSummary(planned.workload)}`,
      ...findings,
      recommended: worth,
    },
    ...base,
    hypopg: planned.hypopg,
    recommendations: planned.recommendations,
    workload: planned.workload,
    diagnoses: planned.diagnoses,
  };
}
