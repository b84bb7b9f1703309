import type { Context } from 'hono';
import type { AppEnv } from '../http/create-router.js';
import { reportErrorOf } from '../http/problems.js';
import { launchOperation } from '../operations/launch.js';
import { operationFor } from '../operations/registry.js';
import { prefersAsync, runOperation, type RunResult } from '../operations/runner.js';
import { isChanging } from '../operations/runs.js';
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
  const deps = c.var.deps;
  const run = {
    kind,
    actor: c.var.principal.name,
    request: { ...request },
    respondAsync: options.respondAsync ?? prefersAsync(c.req.header('Prefer')),
    changing: isChanging(kind, { ...request }),
    signal: c.req.raw.signal,
    describeFailure: reportErrorOf,
  };
  const { launcher } = deps;
  if (launcher) return launchOperation<R>({ ...deps, launcher }, run);
  return runOperation<R>(deps, run, operationFor(kind, run.request, deps) as never);
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
