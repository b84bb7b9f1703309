import { ServiceError } from '../errors.js';
import type { Report } from '../reports/schemas.js';
import type { AppDeps } from './deps.js';
import { cancelLocal, RunLedger } from './runs.js';

const ended = (report: Report, status: string) =>
  new ServiceError('run-ended', `Run ${report.id} has ended (${status}); there is nothing to cancel.`, {
    facts: { runId: report.id, runStatus: status },
  });

/**
 * POST /reports/{id}/cancel: asks a running run to stop at its next step boundary, wherever it
 * runs (its row in sark_migrate.runs; at once when this process runs it). What committed stays;
 * its report ends `cancelled` with what was done, and a changing run releases the lease.
 * Answers the report as it is now, still `running`.
 */
export async function cancelRun(deps: AppDeps, report: Report): Promise<Report> {
  if (report.status !== 'running') throw ended(report, report.status);
  const row = await new RunLedger(deps.db).requestCancel(report.id).catch(() => null);
  // A run the ledger does not know (a read on a read-only role) can be stopped by its own process only.
  if (row ? row.status !== 'running' : !cancelLocal(report.id)) throw ended(report, row?.status ?? 'not running here');
  return report;
}
