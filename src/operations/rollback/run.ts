import type { Database } from '../../adapters/db/types.js';
import { ServiceError } from '../../errors.js';
import type { RollbackReport } from '../../reports/rollback.js';
import type { Outcome } from '../../reports/schemas.js';
import type { PageRange } from '../../sql/rollback/batch.js';
import { extentSql, foreignKeySql, remainingSql, settingsSql } from '../../sql/rollback/run.js';
import { execute, queryOne } from '../../sql/sql.js';
import type { ReportStore } from '../../reports/store.js';
import { exportArchive } from '../archive/export.js';
import { BATCH_LIMITS, batchStep, inStreams, oneAtATime, streamsFor, withRetry } from '../batches.js';
import { BatchSizer } from '../sizing.js';
import { withLease } from '../lease.js';
import { onceInRun } from '../runs.js';
import { statementsTaking, type OperationContext } from '../runner.js';
import { FastPath, rollbackBatch, type BatchOutcome, type BatchRun, type LastBatch } from './batch.js';
import { LIMITS, ROLLBACK_SIZING, understand, type RollbackInput } from './context.js';
import { SNAPSHOT_MAX_MS } from '../snapshot.js';
import { fingerprint } from './plan.js';
import { LISTED, nothingDone, nothingToRollBack, runReport, type Done, type RunState } from './report.js';

/**
 * A run, holding the lease: batches that each commit with their archive, several at
 * once on their own connections, then a last transaction for what no page range held (a
 * subset, rows moved or added meanwhile) and for orphans. A failure leaves whole batches
 * only; a re-run starts from what is left (rows written back are then of v1 origin).
 */
export function runRollback(
  db: Database,
  input: RollbackInput,
  ctx: OperationContext<RollbackReport>,
  exports?: Pick<ReportStore, 'putObject'>,
): Promise<Outcome<RollbackReport>> {
  return withLease(db, ctx, 'rollback', async (lease) => {
    const m = await understand(db);
    if (!m) return nothingToRollBack(input);
    const resourceIds = input.resourceIds ?? null;
    // A step: a Workflow replayed after some batches committed must find the plan it checked
    // then, not the database those batches left (which no longer matches the planId).
    const { planId, extent, foreignKey } = await ctx.step(
      'plan check',
      () =>
        db.transaction(
          async (tx) => {
            await execute(tx, settingsSql());
            return {
              planId: input.planId ? await fingerprint(tx, m, input) : null,
              extent: await queryOne(tx, extentSql(m, { resourceIds })),
              foreignKey: (await queryOne(tx, foreignKeySql())).holds,
            };
          },
          {
            readOnly: true,
            isolation: 'repeatable read',
            statementTimeoutMs: LIMITS.statementTimeoutMs,
            snapshotMaxMs: SNAPSHOT_MAX_MS,
          },
        ),
      statementsTaking(4, LIMITS.statementTimeoutMs),
    );
    if (input.planId && input.planId !== planId) throw stalePlan(input.planId, planId ?? '');
    ctx.started();

    const sizer = new BatchSizer(input.batchSize, input.sizing ?? ROLLBACK_SIZING);
    const ranges = pageRanges(extent, input, sizer, ctx);
    const state: RunState = {
      // The run's own id: the same when a Workflow replays the run, so its archive stays under one id.
      rollbackId: ctx.runId,
      planId,
      done: nothingDone(),
      listed: { born: [], divergent: input.backportChanges ? [] : null },
      totals: { born: 0, staying: 0, divergent: input.backportChanges ? 0 : null },
      remaining: null,
      batches: {
        size: sizer.sizing.first,
        sizing: sizer.sizing,
        parallelism: streamsFor(db, input.parallelism),
        planned: ranges.estimate(),
        committed: 0,
        retries: 0,
        archivedWhole: 0,
        fellBack: 0,
      },
    };
    const run: BatchRun = { m, input, rollbackId: state.rollbackId, foreignKey, fastPath: new FastPath() };
    // Read committed: with the batch's resources locked, each statement sees their capabilities as they are then.
    // Each batch is a step: on a Workflow, one step.do, recorded in the batch's own transaction.
    const inTransaction = async (
      name: string,
      range: PageRange,
      limits: typeof LIMITS | typeof BATCH_LIMITS,
      last?: LastBatch,
    ) => {
      const { retries, ms, ...batch } = await ctx.step(
        name,
        async () => {
          const started = performance.now();
          let retries = 0;
          const outcome = await withRetry(
            () =>
              lease.fenced((tx) => onceInRun(tx, ctx, name, () => rollbackBatch(tx, run, range, last)), {
                ...limits,
                timeZone: 'UTC',
              }),
            () => retries++,
          );
          return { ...outcome, retries, ms: Math.round(performance.now() - started) };
        },
        batchStep(limits),
      );
      state.batches.retries += retries;
      return { batch, ms };
    };
    const committed = (batch: BatchOutcome) => {
      record(state, batch);
      state.batches.planned = Math.max(ranges.estimate(), state.batches.committed);
      state.batches.sizing = sizer.sizing;
      ctx.checkpoint(runReport(input, state)); // stored with the running report, should the process die
      ctx.progress({ done: state.batches.committed, total: state.batches.planned });
    };

    ctx.checkpoint(runReport(input, state)); // the rollback id (its archive's) before the first batch
    ctx.progress({ done: 0, total: state.batches.planned });
    try {
      await inStreams(state.batches.parallelism, ranges.next, async ({ name, size, range }) => {
        ctx.throwIfCancelled(); // a step boundary: what committed stays, and the report says so
        const { batch, ms } = await inTransaction(name, range, BATCH_LIMITS);
        sizer.observe(size, ms);
        committed(batch);
      });
      ctx.throwIfCancelled();
      const last: LastBatch = { orphans: !foreignKey && !resourceIds, onlyWrittenBack: ranges.handed() > 0 };
      committed((await inTransaction('last batch', { lo: null, hi: null }, LIMITS, last)).batch);
      state.remaining = (await queryOne(db, remainingSql(m, { resourceIds }))).remaining;
      if (exports) {
        // After the last commit: an export that fails leaves the rollback done, and says so in the report.
        ctx.checkpoint(runReport(input, state));
        state.exported = await exportArchive(db, exports, state.rollbackId, (name, work) =>
          ctx.step(name, work, { timeoutMs: EXPORT_STEP_MS }),
        );
      }
    } finally {
      ctx.checkpoint(runReport(input, state)); // what committed, should a batch have failed
    }
    return runReport(input, state);
  });
}

/** A committed batch into the run's counts and listings (each listing cut at LISTED rows). */
function record(state: RunState, { done, listed, totals, path }: BatchOutcome): void {
  if (path === 'whole') state.batches.archivedWhole++;
  if (path === 'fell back') state.batches.fellBack++;
  for (const key of Object.keys(done) as (keyof Done)[]) state.done[key] += done[key];
  state.totals.born += totals.born;
  state.totals.staying += totals.staying;
  if (state.totals.divergent !== null) state.totals.divergent += totals.divergent ?? 0;
  state.listed.born.push(...listed.born.slice(0, LISTED - state.listed.born.length));
  if (state.listed.divergent && listed.divergent) {
    state.listed.divergent.push(...listed.divergent.slice(0, LISTED - state.listed.divergent.length));
  }
  state.batches.committed++;
}

/**
 * The run's batches: ranges of the resources' pages holding about as many resources in scope
 * as the sizer says each, so every batch deletes rows that lie together in both tables, as one
 * sequential DELETE would (in id order each batch would touch most pages of capabilities).
 * A subset has no ranges: the last batch, over every resource in scope, takes it whole. Each
 * range is a step, so a replayed Workflow gets the same ranges under the same names.
 */
function pageRanges(
  extent: { pages: number; in_scope: number },
  input: RollbackInput,
  sizer: BatchSizer,
  ctx: Pick<OperationContext, 'step'>,
) {
  const ranged = !input.resourceIds && extent.in_scope > 0;
  const pagesFor = (size: number) => Math.max(1, Math.ceil((size * extent.pages) / extent.in_scope));
  let page = 0;
  let handed = 0;
  return {
    next: oneAtATime(async () => {
      if (!ranged || page >= extent.pages) return null;
      const n = handed + 1;
      const from = page;
      const chosen = sizer.take();
      // No statement: the step only records the range, which depends on the batches timed so far.
      const { to, size } = await ctx.step(`range ${n}`, async () => ({ to: from + pagesFor(chosen), size: chosen }), {
        timeoutMs: 10_000,
      });
      handed = n;
      page = to;
      const range: PageRange = { lo: `(${from},0)`, hi: `(${to},0)` };
      return { name: `batch ${n}`, size, range };
    }),
    handed: () => handed,
    /** The batches in all, the last batch included, at the size the next range would get. */
    estimate: () => handed + (ranged ? Math.ceil(Math.max(0, extent.pages - page) / pagesFor(sizer.next)) : 0) + 1,
  };
}

/** An export step's bound: one table of the archive, read in pages and streamed to the store. */
const EXPORT_STEP_MS = 30 * 60_000;

const stalePlan = (planId: string, current: string) =>
  new ServiceError(
    'stale-plan',
    `The database no longer matches plan ${planId}: make a new plan with a dry run and review it.`,
    { facts: { planId, currentPlanId: current } },
  );
