import type { AppDeps } from '../lib/deps.js';
import { ProblemError } from '../lib/errors.js';
import { newReportId } from '../reports/ids.js';
import type { Report, ReportKind } from '../reports/schemas.js';

/** What an operation returns: its outcome status, headline figures, and the fields of its kind. */
export interface OperationOutcome {
  status: string;
  summary: Record<string, unknown>;
  details: Record<string, unknown>;
}

export interface Progress {
  done: number;
  total: number | null;
}

/** Handed to an operation: report progress as it goes (persisted, throttled, when running async). */
export type ReportProgress = (progress: Progress) => void;

export interface RunRequest {
  kind: ReportKind;
  actor: string;
  request: Record<string, unknown>;
  respondAsync: boolean;
}

export type RunResult = { mode: 'finished'; report: Report } | { mode: 'accepted'; report: Report };

const PROGRESS_WRITE_INTERVAL_MS = 1000;

function problemOf(error: unknown): { status: number; title: string; detail: string } {
  if (error instanceof ProblemError) return { status: error.status, title: error.title, detail: error.message };
  return { status: 500, title: 'Internal error', detail: 'The operation failed unexpectedly; the service log has the details.' };
}

/**
 * The one way every operation runs: makes the report (id, kind, actor, validated request,
 * timestamps), stores it, and with respond-async answers at once while the work goes on in
 * the background (Node: in process; Workers: waitUntil), progress stored as it goes.
 */
export async function runOperation(deps: AppDeps, run: RunRequest, execute: (progress: ReportProgress) => Promise<OperationOutcome>): Promise<RunResult> {
  const started = Date.now();
  const base: Report = {
    id: newReportId(started),
    kind: run.kind,
    status: 'running',
    createdAt: new Date(started).toISOString(),
    finishedAt: null,
    durationMs: null,
    actor: run.actor,
    request: run.request,
    summary: {},
    progress: { done: 0, total: null },
  };

  let latest: Progress = { done: 0, total: null };
  let began = run.respondAsync; // a report exists once anything is stored
  let lastWrite = 0;
  let writing: Promise<void> = Promise.resolve();
  const persist = (report: Report) => (writing = writing.then(() => deps.store.put(report)).catch((e) => console.error(`report ${base.id}: store failed`, e)));
  const progress: ReportProgress = (p) => {
    latest = p;
    began = true;
    if (run.respondAsync && Date.now() - lastWrite >= PROGRESS_WRITE_INTERVAL_MS) {
      lastWrite = Date.now();
      void persist({ ...base, progress: p });
    }
  };

  const finish = (fields: Partial<Report>): Report => {
    const finishedAt = Date.now();
    return { ...base, ...fields, progress: latest, finishedAt: new Date(finishedAt).toISOString(), durationMs: finishedAt - started };
  };

  const execution = async (): Promise<Report> => {
    let report: Report;
    try {
      const outcome = await execute(progress);
      report = finish({ status: outcome.status, summary: outcome.summary, ...outcome.details });
    } catch (error) {
      if (!began) throw error; // nothing happened and nothing was stored: the problem is the answer
      if (!(error instanceof ProblemError)) console.error(`report ${base.id}: operation failed`, error);
      report = finish({ status: 'failed', summary: {}, error: problemOf(error) });
      await persist(report);
      await writing;
      if (run.respondAsync) return report;
      throw error instanceof ProblemError ? Object.assign(error, { extensions: { ...error.extensions, reportId: base.id } }) : error;
    }
    await persist(report);
    await writing;
    return report;
  };

  if (!run.respondAsync) return { mode: 'finished', report: await execution() };
  await deps.store.put(base);
  lastWrite = Date.now();
  deps.defer(execution());
  return { mode: 'accepted', report: base };
}

/** RFC 7240: does the Prefer header ask for respond-async? */
export function prefersAsync(prefer: string | undefined): boolean {
  return (prefer ?? '').split(',').some((p) => p.trim().split(/[;=]/)[0]!.trim().toLowerCase() === 'respond-async');
}
