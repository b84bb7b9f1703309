import type { Context } from 'hono';
import type { AppEnv } from '../http/create-router.js';
import { HttpProblem, reportErrorOf } from '../http/problems.js';
import { resolvedTargetProblem } from '../notify/send.js';
import type { WebhookTarget } from '../operations/deps.js';
import { prefersAsync, type RunResult } from '../operations/runner.js';
import { isChanging } from '../operations/runs.js';
import { defaultWebhook, startOperation } from '../operations/start.js';
import type { Report } from '../reports/schemas.js';

/**
 * Runs an operation for a request: the token's name as actor, the validated body as request. In
 * this process, or, where the runtime has a launcher (Workers), as a durable run of its own.
 * `respondAsync` overrides the Prefer header (the dashboard always follows a run on its page).
 */
export async function startRun<R extends Report>(
  c: Context<AppEnv>,
  kind: R['kind'],
  input: object,
  options: { respondAsync?: boolean } = {},
): Promise<RunResult<R>> {
  // `notify` is where the end is told, not what to run: it stays out of the report (a URL may hold a credential).
  const { notify, ...request } = input as { notify?: string };
  const respondAsync = options.respondAsync ?? prefersAsync(c.req.header('Prefer'));
  const webhook = await webhookOf(c, notify, respondAsync);
  return startOperation<R>(
    c.var.deps,
    {
      kind,
      actor: c.var.principal.name,
      request,
      respondAsync,
      changing: isChanging(kind, request),
      signal: c.req.raw.signal,
      describeFailure: reportErrorOf,
    },
    webhook,
  );
}

/**
 * Where the run's end is POSTed: the request's `notify`, checked against the policy before
 * anything runs (400 naming it), or, for an async run, NOTIFY_URL.
 */
async function webhookOf(
  c: Context<AppEnv>,
  notify: string | undefined,
  respondAsync: boolean,
): Promise<WebhookTarget | undefined> {
  const origin = new URL(c.req.url).origin;
  if (notify === undefined) return respondAsync ? defaultWebhook(c.var.deps, origin) : undefined;
  const options = c.var.deps.notify ?? { allowPrivate: false };
  const problem = options.secret
    ? await resolvedTargetProblem(notify, { host: 'any' }, options)
    : 'cannot be signed: the service has no NOTIFY_SECRET, so it sends no notifications';
  if (problem) {
    throw new HttpProblem('bad-request', `The request's notify URL ${problem}; nothing was run.`, {
      errors: [{ field: 'notify', in: 'body', message: problem }],
    });
  }
  return { url: notify, origin };
}

/** 200 with the finished report, or 202 with Location (asked for, or a run past the synchronous budget). */
export function answerRun<R extends Report>(c: Context<AppEnv>, result: RunResult<R>) {
  if (result.mode === 'accepted') {
    c.header('Location', `/reports/${result.report.id}`);
    if (prefersAsync(c.req.header('Prefer'))) c.header('Preference-Applied', 'respond-async');
    return c.json(result.report, 202);
  }
  return c.json(result.report, 200);
}
