import type { Database } from '../adapters/db/types.js';
import { ServiceError } from '../errors.js';
import type { Report, ReportKind } from '../reports/schemas.js';
import {
  abandonSilentRunsSql,
  finishRunSql,
  heartbeatSql,
  insertRunSql,
  requestCancelSql,
  type RunRow,
} from '../sql/runs.js';
import { execute, queryRows } from '../sql/sql.js';

/**
 * The runs of a database (sark_migrate.runs): each run the service starts is a row, so a cancel
 * request reaches it from any process or isolate, and a process that starts finds the runs whose
 * process died. The report in the store stays the record of what a run did.
 */

/** A running run's heartbeat comes this often; a run silent for LEASE_TTL_MS is abandoned. */
export const HEARTBEAT_MS = 2_000;

/** Whether a run changes the database (and so holds the lease, and takes `apply` to cancel). */
export function isChanging(kind: ReportKind, request: Record<string, unknown>): boolean {
  if (kind === 'migration' || kind === 'rollback') return request.dryRun === false;
  if (kind === 'optimization') return request.action === 'apply';
  return false;
}

export const cancelledError = (id: string) =>
  new ServiceError('cancelled', `Run ${id} was cancelled; it stopped at a step boundary.`, { facts: { runId: id } });

/**
 * Processes' cancel switches for the runs they run: a cancel request answered by the same
 * process (Node; a Worker isolate) reaches its run at once, without waiting for a heartbeat.
 */
const local = new Map<string, AbortController>();

/** Cancels a run of this process that the ledger does not know; whether there was one. */
export function cancelLocal(id: string): boolean {
  const controller = local.get(id);
  controller?.abort(cancelledError(id));
  return controller !== undefined;
}

export class RunLedger {
  constructor(private readonly db: Database) {}

  /** Records the run; the returned controller aborts when someone asks to cancel it. */
  async start(id: string, kind: ReportKind, changing: boolean): Promise<AbortController> {
    await execute(this.db, insertRunSql(id, kind, changing));
    return RunLedger.local(id);
  }

  /** The cancel switch of a run the ledger does not record (it could not be written). */
  static local(id: string): AbortController {
    const controller = new AbortController();
    local.set(id, controller);
    return controller;
  }

  /** The run is alive; aborts its controller when a cancel was asked for (maybe elsewhere). */
  async heartbeat(id: string): Promise<void> {
    const [row] = await queryRows(this.db, heartbeatSql(id));
    if (row?.cancel_requested) local.get(id)?.abort(cancelledError(id));
  }

  async finish(id: string, status: Report['status'], recorded = true): Promise<void> {
    local.delete(id);
    if (recorded) await execute(this.db, finishRunSql(id, status));
  }

  /** Asks a run to stop at its next step boundary: its row after the request, null when unknown here. */
  async requestCancel(id: string): Promise<RunRow | null> {
    const [row] = await queryRows(this.db, requestCancelSql(id));
    if (row?.cancel_requested) local.get(id)?.abort(cancelledError(id));
    return row ?? null;
  }

  /** Marks the runs whose process stopped (no heartbeat for silentMs, no live lease) as abandoned. */
  abandonSilent(silentMs: number): Promise<{ id: string; kind: string }[]> {
    return queryRows(this.db, abandonSilentRunsSql(silentMs));
  }
}
