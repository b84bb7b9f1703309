import { ServiceError } from '../errors.js';
import { newReportId, type ReportId } from '../reports/ids.js';
import type { Report } from '../reports/schemas.js';
import type { AppDeps, LaunchParams, Launcher, NotifyTarget, WebhookTarget } from './deps.js';
import type { RunRequest, RunResult } from './runner.js';

/** The run ended after it started and its report says `failed`: the request's answer is that failure. */
export class LaunchedRunFailed extends Error {
  constructor(readonly report: Report) {
    super(report.error?.detail ?? `Run ${report.id} failed.`);
    this.name = 'LaunchedRunFailed';
  }
}

/** A synchronous request waits this long for a launched run to end before it answers 202. */
export const SYNC_BUDGET_MS = 20_000;
/** However long it waits, a request gives up on a run that has not even started after this. */
const START_LIMIT_MS = 60_000;
const POLL_MS = 100;

/** What a launched run is given: a new id, what it runs, and where its end is told. */
export function launchParams(
  run: Pick<RunRequest, 'kind' | 'actor' | 'request' | 'changing'>,
  webhook: WebhookTarget | undefined,
  notify?: NotifyTarget,
): LaunchParams {
  const startedAt = Date.now();
  return {
    id: newReportId(startedAt),
    startedAt,
    kind: run.kind,
    actor: run.actor,
    request: run.request,
    changing: run.changing,
    ...(notify ? { notify } : {}),
    ...(webhook ? { webhook } : {}),
  };
}

/**
 * Starts a run through the launcher and answers as runOperation does: with respond-async, 202
 * once the run has started (its running report stored); otherwise the final report when the
 * run ends within the budget, else 202 too. A run that did not start answers its error.
 */
export async function launchOperation<R extends Report>(
  deps: AppDeps & { launcher: Launcher },
  run: RunRequest<R['kind']>,
  webhook?: WebhookTarget,
): Promise<RunResult<R>> {
  // A synchronous caller is answered a refusal; a respond-async one's webhook is told it too.
  const params = launchParams(run, webhook && { ...webhook, toldRefusal: run.respondAsync });
  const { id, startedAt } = params;
  await deps.launcher.launch(params);
  const budget = run.respondAsync ? 0 : (deps.syncBudgetMs ?? SYNC_BUDGET_MS);
  for (;;) {
    const report = await deps.store.get(id as ReportId);
    // Prefer: respond-async always gets 202, even for a run that has already ended.
    if (report && run.respondAsync) return { mode: 'accepted', report };
    if (report && report.status !== 'running') {
      if (report.status === 'failed' && report.error) throw new LaunchedRunFailed(report);
      return { mode: 'finished', report: report as R };
    }
    const waited = Date.now() - startedAt;
    if (report && waited >= budget) return { mode: 'accepted', report };
    const state = await deps.launcher.state(id);
    if (state.state === 'refused') throw new ServiceError(state.kind, state.detail, { facts: state.facts });
    if (state.state === 'errored') throw new Error(`Run ${id} ended before its report did: ${state.message}`);
    if (state.state === 'ended') {
      // It ended after the report above was read, or its report never reached the store: one more look.
      const last = await deps.store.get(id as ReportId);
      if (last && last.status !== 'running') continue;
      throw new ServiceError(
        'store-unavailable',
        `Run ${id} has ended, but the report store does not hold its final report. Check the report store (the R2 binding); GET /reports/${id} shows it once stored.`,
        { facts: { reportId: id } },
      );
    }
    if (!report && waited >= START_LIMIT_MS) throw new Error(`Run ${id} has not started after ${waited} ms.`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
