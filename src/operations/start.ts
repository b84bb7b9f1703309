import { isServiceError } from '../errors.js';
import { postJson, type NotifyOptions } from '../notify/send.js';
import { endedPayload, refusedPayload, standardSigner } from '../notify/webhook.js';
import {
  failedToRunMessage,
  planChanges,
  refusedMessage,
  reportMessage,
  reportUrl,
  runTitle,
  type SlackMessage,
} from '../notify/slack.js';
import type { ReportId } from '../reports/ids.js';
import type { Report } from '../reports/schemas.js';
import type { AppDeps, NotifyTarget, WebhookTarget } from './deps.js';
import { launchOperation, launchParams } from './launch.js';
import { operationFor } from './registry.js';
import { OperationFailedError, runOperation, type RunRequest, type RunResult } from './runner.js';

/**
 * How every door starts a run, without knowing where it runs: in this process, or, where the
 * runtime has a launcher (Workers), as a durable run of its own. The HTTP handlers wait for its
 * answer (startOperation); a chat door hands it over and is told how it ended (startDetached).
 */

const DEFAULT_NOTIFY: NotifyOptions = { allowPrivate: false };

/**
 * Starts a run and answers as the HTTP API does: the finished report, or (respond-async, a long
 * run) the running one. `webhook` is told how it ended, and, for a respond-async run, that it
 * did not start (a synchronous caller has that answer already).
 */
export async function startOperation<R extends Report>(
  deps: AppDeps,
  run: RunRequest<R['kind']>,
  webhook?: WebhookTarget,
): Promise<RunResult<R>> {
  const { launcher } = deps;
  if (launcher) return launchOperation<R>({ ...deps, launcher }, run, webhook);
  const told = webhook ? { ...run, onEnded: alsoTell(deps, run.onEnded, webhook) } : run;
  try {
    return await runOperation<R>(deps, told, operationFor(run.kind, run.request, deps) as never);
  } catch (error) {
    if (webhook && run.respondAsync && !(error instanceof OperationFailedError))
      deps.defer(notifyWebhookRefused(deps, webhook, { kind: run.kind, id: null }, error));
    throw error;
  }
}

/** onEnded, then the webhook: one after the other, so each adds its delivery to the stored report. */
function alsoTell(deps: AppDeps, first: RunRequest['onEnded'], webhook: WebhookTarget) {
  return async (report: Report) => {
    await first?.(report).catch((e: unknown) => console.error(`report ${report.id}: its end was not told`, e));
    await notifyWebhookEnded(deps, webhook, report);
  };
}

/** The generic notification of a detached run: NOTIFY_URL, where set. */
export function defaultWebhook(deps: AppDeps, origin: string): WebhookTarget | undefined {
  const url = deps.notify?.defaultUrl;
  return url ? { url, origin } : undefined;
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
  const webhook = defaultWebhook(deps, notify.origin);
  try {
    if (deps.launcher) {
      const params = launchParams(run, webhook && { ...webhook, toldRefusal: true }, notify);
      await deps.launcher.launch(params);
      return params.id;
    }
    const toSlack = (report: Report) => notifyEnded(deps, notify, report);
    const told = { ...run, respondAsync: true, onEnded: webhook ? alsoTell(deps, toSlack, webhook) : toSlack };
    const result = await runOperation(deps, told, operationFor(run.kind, run.request, deps));
    return result.report.id;
  } catch (error) {
    if (error instanceof OperationFailedError) return error.reportId; // it started and ended: told already
    await notifyRefused(deps, notify, run, error);
    if (webhook) await notifyWebhookRefused(deps, webhook, { kind: run.kind, id: null }, error);
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
  await recordDelivery(deps, report, await deliver(deps, target, message));
}

/** The final report is stored already: this adds what became of one of its notifications. */
async function recordDelivery(deps: AppDeps, report: Report, delivery: unknown): Promise<void> {
  // The stored one: another notification of the same run may have been recorded meanwhile.
  const stored = (await deps.store.get(report.id as ReportId).catch(() => null)) ?? report;
  const notifications = [...((stored as { notifications?: unknown[] }).notifications ?? []), delivery];
  await deps.store
    .put({ ...stored, notifications } as Report)
    .catch((e: unknown) => console.warn(`report ${report.id}: notification attempts not stored`, e));
}

/** POSTs a run's signed summary to its webhook, and records the attempts in the report. */
export async function notifyWebhookEnded(deps: AppDeps, target: WebhookTarget, report: Report): Promise<void> {
  const delivery = await sendWebhook(deps, target, `msg_${report.id}`, endedPayload(report, target.origin));
  await recordDelivery(deps, report, delivery);
}

/** A run that did not start: its webhook is told why (there is no report to record the attempts in: logged). */
export async function notifyWebhookRefused(
  deps: AppDeps,
  target: WebhookTarget,
  run: { kind: Report['kind']; id: string | null },
  error: unknown,
): Promise<void> {
  const problem = isServiceError(error)
    ? { kind: error.kind, detail: error.message }
    : { kind: 'internal-error', detail: 'It could not start for a reason the service log has; nothing was changed.' };
  const id = run.id ? `msg_${run.id}` : `msg_refused_${crypto.randomUUID()}`;
  await sendWebhook(deps, target, id, refusedPayload(run, problem));
}

async function sendWebhook(deps: AppDeps, target: WebhookTarget, messageId: string, payload: unknown) {
  const options = deps.notify ?? DEFAULT_NOTIFY;
  const host = new URL(target.url).host;
  // Checked at the request: a target is only ever accepted with a secret to sign with.
  if (!options.secret) {
    console.warn(`a webhook notification to ${host} was not sent: NOTIFY_SECRET is not set`);
    return { channel: 'webhook' as const, host, delivered: false, attempts: [] };
  }
  const delivery = await postJson(target.url, payload, options, standardSigner(options.secret, messageId));
  if (!delivery.delivered)
    console.warn(`a webhook notification to ${host} was not delivered: ${JSON.stringify(delivery.attempts)}`);
  return { channel: 'webhook' as const, host, ...delivery };
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
  if (isServiceError(error, 'stale-plan') && target.plan && (run.kind === 'rollback' || run.kind === 'migration')) {
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
