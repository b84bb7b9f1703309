import type { Context } from 'hono';
import type { AppEnv } from '../http/create-router.js';
import { reportErrorOf } from '../http/problems.js';
import { prefersAsync, type RunResult } from '../operations/runner.js';
import { isChanging } from '../operations/runs.js';
import { startOperation } from '../operations/start.js';
import type { Report } from '../reports/schemas.js';

/**
 * Runs an operation for a request: the token's name as actor, the validated body as request. In
 * this process, or, where the runtime has a launcher (Workers), as a durable run of its own.
 * `respondAsync` overrides the Prefer header (the dashboard always follows a run on its page).
 */
export function startRun<R extends Report>(
  c: Context<AppEnv>,
  kind: R['kind'],
  request: object,
  options: { respondAsync?: boolean } = {},
): Promise<RunResult<R>> {
  return startOperation<R>(c.var.deps, {
    kind,
    actor: c.var.principal.name,
    request: { ...request },
    respondAsync: options.respondAsync ?? prefersAsync(c.req.header('Prefer')),
    changing: isChanging(kind, { ...request }),
    signal: c.req.raw.signal,
    describeFailure: reportErrorOf,
  });
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
