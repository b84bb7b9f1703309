import { isServiceError } from '../errors.js';
import { postJson, type NotifyOptions } from '../notify/send.js';
import {
  failedToRunMessage,
  planChanges,
  refusedMessage,
  reportMessage,
  reportUrl,
  runTitle,
  type SlackMessage,
} from '../notify/slack.js';
import { newReportId, type ReportId } from '../reports/ids.js';
import type { Report } from '../reports/schemas.js';
import type { AppDeps, NotifyTarget } from './deps.js';
import { launchOperation } from './launch.js';
import { operationFor } from './registry.js';
import { OperationFailedError, runOperation, type RunRequest, type RunResult } from './runner.js';

/**
 * How every door starts a run, without knowing where it runs: in this process, or, where the
 * runtime has a launcher (Workers), as a durable run of its own. The HTTP handlers wait for its
 * answer (startOperation); a chat door hands it over and is told how it ended (startDetached).
 */

const DEFAULT_NOTIFY: NotifyOptions = { allowPrivate: false };

/** Starts a run and answers as the HTTP API does: the finished report, or (respond-async, a long run) the running one. */
export function startOperation<R extends Report>(deps: AppDeps, run: RunRequest<R['kind']>): Promise<RunResult<R>> {
  const { launcher } = deps;
  if (launcher) return launchOperation<R>({ ...deps, launcher }, run);
  return runOperation<R>(deps, run, operationFor(run.kind, run.request, deps) as never);
}

/** What a detached run needs: a run request without a caller waiting on it. */
export type DetachedRun = Omit<RunRequest, 'respondAsync' | 'onEnded' | 'signal'>;

/**
 * Starts a run for a caller who does not wait: `notify` is told how it ended, or that it did not
 * start (lock busy, too many runs, a stale plan: then a new plan is made and posted instead).
 * Never throws for a run that did not start: the target is told. Resolves with the run's id
 * once it is handed over (started in process; launched as a Workflow, without waiting for it).
 */
export async function startDetached(deps: AppDeps, run: DetachedRun, notify: NotifyTarget): Promise<string | null> {
  const startedAt = Date.now();
  try {
    if (deps.launcher) {
      const id = newReportId(startedAt);
      await deps.launcher.launch({
        id,
        startedAt,
        kind: run.kind,
        actor: run.actor,
        request: run.request,
        changing: run.changing,
        notify,
      });
      return id;
    }
    const told = { ...run, respondAsync: true, onEnded: (report: Report) => notifyEnded(deps, notify, report) };
    const result = await runOperation(deps, told, operationFor(run.kind, run.request, deps));
    return result.report.id;
  } catch (error) {
    if (error instanceof OperationFailedError) return error.reportId; // it started and ended: told already
    await notifyRefused(deps, notify, run, error);
    return null;
  }
}

/** Posts a run's final report to its target (a plan with its buttons), and records the attempts in the report. */
export async function notifyEnded(deps: AppDeps, target: NotifyTarget, report: Report): Promise<void> {
  const preface = target.stale ? await stalePreface(deps, target.stale, target.origin, report) : undefined;
  const message = reportMessage(report, target.origin, {
    withButtons: target.buttons,
    ...(preface ? { preface } : {}),
  });
  const delivery = await deliver(deps, target, message);
  const notifications = [...((report as { notifications?: unknown[] }).notifications ?? []), delivery];
  // The final report is stored already: this adds what became of its notification.
  await deps.store
    .put({ ...report, notifications } as Report)
    .catch((e: unknown) => console.warn(`report ${report.id}: notification attempts not stored`, e));
}

/**
 * A run that did not start: the target is told why. A stale plan is answered with a new one (a
 * dry run of the same request), posted with what changed since the plan that was approved.
 */
export async function notifyRefused(
  deps: AppDeps,
  target: NotifyTarget,
  run: DetachedRun,
  error: unknown,
): Promise<void> {
  if (isServiceError(error, 'stale-plan') && target.plan && run.kind === 'rollback') {
    const { planId: _planId, dryRun: _dryRun, ...rest } = run.request;
    const replan = { ...run, request: { ...rest, dryRun: true }, changing: false };
    const { plan: stalePlan, ...others } = target;
    await startDetached(deps, replan, { ...others, buttons: true, stale: { plan: stalePlan, detail: error.message } });
    return;
  }
  const title = runTitle(run.kind, run.request);
  if (!isServiceError(error)) console.error(`${title} for ${run.actor} could not start`, error);
  const message = isServiceError(error)
    ? refusedMessage(title, error.kind, error.message)
    : failedToRunMessage(title, 'It could not start for a reason the service log has; nothing was changed.');
  await deliver(deps, target, message);
}

/** The notification a report records: where it went (the host, never the URL: it is a credential) and each attempt. */
async function deliver(deps: AppDeps, target: NotifyTarget, message: SlackMessage) {
  // A new message, never the one whose button was clicked (that one says who clicked).
  const delivery = await postJson(target.url, { ...message, replace_original: false }, deps.notify ?? DEFAULT_NOTIFY);
  if (!delivery.delivered)
    console.warn(`a ${target.kind} notification was not delivered: ${JSON.stringify(delivery.attempts)}`);
  return { channel: target.kind, host: new URL(target.url).host, ...delivery };
}

async function stalePreface(
  deps: AppDeps,
  stale: NonNullable<NotifyTarget['stale']>,
  origin: string,
  current: Report,
): Promise<string[]> {
  const previous = await deps.store.get(stale.plan as ReportId).catch(() => null);
  const changes = previous ? planChanges(previous, current) : [];
  return [
    `:warning: The plan you approved (<${reportUrl(origin, stale.plan)}|report ${stale.plan}>) is stale, so nothing was applied: ${stale.detail}`,
    changes.length > 0
      ? `*What changed since that plan*\n${changes.map((c) => `• ${c}`).join('\n')}`
      : '*What changed*: its counts are the same; rows within them changed (see the report).',
    'This is the new plan: review it and apply again.',
  ];
}
