import type { Database, Queryable } from '../adapters/db/types.js';
import { isServiceError, ServiceError } from '../errors.js';
import type { Report, ReportKind } from '../reports/schemas.js';
import {
  abandonRunSql,
  finishRunSql,
  forgetRunSql,
  heartbeatSql,
  insertRunSql,
  ledgerPresentSql,
  recordStepSql,
  requestCancelSql,
  runAndActorSql,
  silentRunsSql,
  stepResultSql,
  type RunRow,
} from '../sql/runs.js';
import { execute, queryOne, queryRows } from '../sql/sql.js';

/**
 * The runs of a database (sark_migrate.runs): each run the service starts is a row, so a cancel
 * request reaches it from any process or isolate, and a process that starts finds the runs whose
 * process died. The report in the store stays the record of what a run did.
 */

/** A running run's heartbeat comes this often; a run silent for LEASE_TTL_MS is abandoned. */
export const HEARTBEAT_MS = 2_000;

/** Whether a run changes the database (and so holds the lease, and takes `apply` to cancel). */
export function isChanging(kind: ReportKind, request: Record<string, unknown>): boolean {
  if (kind === 'migration' || kind === 'rollback' || kind === 'restore') return request.dryRun === false;
  if (kind === 'optimization') return request.action === 'apply';
  return false;
}

export const cancelledError = (id: string) =>
  new ServiceError('cancelled', `Run ${id} was cancelled; it stopped at a step boundary.`, { facts: { runId: id } });

/**
 * A run's cancel switch. Anyone may ask (`requested`); only the run's own context aborts its
 * signal (settle), since on Workers a signal belongs to the request or Workflow that made it,
 * and aborting it from another one's I/O is refused.
 */
export class RunSwitch {
  readonly controller = new AbortController();
  requested = false;

  constructor(private readonly id: string) {}

  /** In the run's own context: aborts its signal when a cancel was asked for; whether it is cancelled. */
  settle(): boolean {
    if (this.requested && !this.controller.signal.aborted) this.controller.abort(cancelledError(this.id));
    return this.controller.signal.aborted;
  }
}

/**
 * The switches of the runs this process (Node; a Worker isolate) runs: a cancel request it
 * answers reaches its run at the next step boundary, without waiting for a heartbeat.
 */
const local = new Map<string, RunSwitch>();

/** Asks a run of this process to stop; whether there was one. */
export function cancelLocal(id: string): boolean {
  const run = local.get(id);
  if (run) run.requested = true;
  return run !== undefined;
}

/**
 * A step's work in the caller's transaction, at most once per run: where the run records its
 * steps (a launched run, which a Workflow may retry or replay), a step that committed before is
 * found in sark_migrate.run_steps and its result given back; else its result is recorded in the
 * same transaction as its work. Whether it committed is the database's to say, not memory's.
 */
export async function onceInRun<T>(
  tx: Queryable,
  run: { runId: string; recordsSteps?: boolean | undefined },
  step: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!run.recordsSteps) return work();
  const [done] = await queryRows(tx, stepResultSql(run.runId, step));
  if (done) return done.result as T;
  const result = await work();
  await execute(tx, recordStepSql(run.runId, step, result));
  return result;
}

/** How long a ledger write that failed is tried again: a run left `running` would hold its token's read slot. */
const LEDGER_RETRIES_MS = [250, 1_000, 3_000];

async function persistently<T>(work: () => Promise<T>): Promise<T> {
  for (const wait of LEDGER_RETRIES_MS) {
    try {
      return await work();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  return work();
}

/** How a run ended, by its stored report; null while it runs or when it has no report. */
export type EndedRun = (id: string) => Promise<Report['status'] | null>;

export class RunLedger {
  constructor(private readonly db: Database) {}

  /**
   * Records the run; its switch is asked to stop when someone cancels it. A read whose actor has
   * another read running is refused (too-many-runs), whatever process or isolate runs that one;
   * unless that run's report has ended (its process could not write the ledger's end), when the
   * ledger is set right and this run recorded. Null: the ledger cannot record runs here (a role
   * that may only read, a ledger never created), and only a read may go on without it.
   */
  async start(
    id: string,
    kind: ReportKind,
    changing: boolean,
    actor: string,
    ended: EndedRun = async () => null,
  ): Promise<RunSwitch | null> {
    for (let attempt = 0; ; attempt++) {
      let inserted: unknown[];
      try {
        inserted = await queryRows(this.db, insertRunSql(id, kind, changing, actor));
      } catch (error) {
        if (isServiceError(error, 'read-only') || !(await queryOne(this.db, ledgerPresentSql())).present) return null;
        throw error;
      }
      if (inserted.length > 0) return RunLedger.local(id);
      const { recorded, running } = await queryOne(this.db, runAndActorSql(id, actor));
      if (recorded) return RunLedger.local(id); // a replayed Workflow: its row is there already
      const status = running && attempt === 0 ? await ended(running) : null;
      if (status) {
        await execute(this.db, finishRunSql(running!, status));
        continue;
      }
      throw new ServiceError(
        'too-many-runs',
        `"${actor}" already has a read running (report ${running ?? 'just ended'}): one at a time per token; retry when it has ended.`,
        { facts: { runningReportId: running } },
      );
    }
  }

  /** The cancel switch of a run the ledger does not record (it could not be written). */
  static local(id: string): RunSwitch {
    const run = new RunSwitch(id);
    local.set(id, run);
    return run;
  }

  /** The run is alive; asks its switch to stop when a cancel was asked for (maybe elsewhere). */
  async heartbeat(id: string): Promise<void> {
    const [row] = await queryRows(this.db, heartbeatSql(id));
    if (row?.cancel_requested) cancelLocal(id);
  }

  /** The run ended; the write is tried again for a few seconds, as a row left running holds its token's slot. */
  async finish(id: string, status: Report['status'], recorded = true): Promise<void> {
    local.delete(id);
    if (recorded) await persistently(() => execute(this.db, finishRunSql(id, status)));
  }

  /** Asks a run to stop at its next step boundary: its row after the request, null when unknown here. */
  async requestCancel(id: string): Promise<RunRow | null> {
    const [row] = await queryRows(this.db, requestCancelSql(id));
    if (row?.cancel_requested) cancelLocal(id);
    return row ?? null;
  }

  /**
   * Marks the runs whose process stopped (no heartbeat for silentMs, no live lease) as abandoned,
   * but not one that `alive` says its runtime will still resume (a Workflow instance the engine
   * keeps: it replays the run after an eviction, whatever the silence).
   */
  async abandonSilent(
    silentMs: number,
    alive: (id: string) => Promise<boolean> = async () => false,
  ): Promise<{ id: string; kind: string }[]> {
    const abandoned: { id: string; kind: string }[] = [];
    for (const { id } of await queryRows(this.db, silentRunsSql(silentMs))) {
      if (await alive(id)) continue;
      abandoned.push(...(await queryRows(this.db, abandonRunSql(id, silentMs))));
    }
    return abandoned;
  }

  /** A run refused before it started leaves no row: it has no report, and nothing to abandon. */
  async forget(id: string): Promise<void> {
    local.delete(id);
    await persistently(() => execute(this.db, forgetRunSql(id)));
  }
}
