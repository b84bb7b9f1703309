import type { Queryable } from '../adapters/db/types.js';
import type { ReportId } from '../reports/ids.js';
import type { Report } from '../reports/schemas.js';
import { existingTables } from '../sql/introspection.js';
import { v2CountsSql } from '../sql/runs.js';
import { queryOne } from '../sql/sql.js';
import type { AppDeps } from './deps.js';
import { LEASE_TTL_MS } from './lease.js';
import { RunLedger } from './runs.js';
import { count } from './text.js';

/** What the database shows now: the v2 rows a stopped migration or rollback left. */
async function databaseFigures(db: Queryable): Promise<{ resources: number; capabilities: number } | null> {
  if ((await existingTables(db, ['resources', 'capabilities'])).size < 2) return null;
  return queryOne(db, v2CountsSql());
}

/**
 * Finds the runs whose process stopped (a SIGKILL, a crash: no heartbeat and no live lease for
 * `silentMs`), marks them `abandoned` in the ledger, and ends their reports so, with the
 * figures the database shows. What they committed stays; a new run finishes the job.
 * Returns the reports it ended.
 */
export async function markAbandonedRuns(
  deps: AppDeps,
  silentMs = LEASE_TTL_MS,
  alive?: (id: string) => Promise<boolean>,
): Promise<Report[]> {
  const silent = await new RunLedger(deps.db).abandonSilent(silentMs, alive);
  if (silent.length === 0) return [];
  const figures = await databaseFigures(deps.db).catch(() => null);
  const ended: Report[] = [];
  for (const { id } of silent) {
    const report = await deps.store.get(id as ReportId);
    if (!report || report.status !== 'running') continue; // its process stored the end after all
    const now = new Date();
    const shows = figures
      ? ` The database now holds ${count(figures.resources, 'resource')} and ${count(figures.capabilities, 'capability', 'capabilities')} in v2.`
      : '';
    const abandoned: Report = {
      ...report,
      status: 'abandoned',
      finishedAt: now.toISOString(),
      durationMs: now.getTime() - Date.parse(report.createdAt),
      summary: {
        message: `Abandoned: the process running it stopped, and its lease expired. What it committed stays (progress shows how far it got); a new run finishes the job.${shows}`,
        ...(figures ? { database: figures } : {}),
      },
    };
    await deps.store.put(abandoned);
    ended.push(abandoned);
  }
  return ended;
}
