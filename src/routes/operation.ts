import type { Context } from 'hono';
import type { AppEnv } from '../http/create-router.js';
import { reportErrorOf } from '../http/problems.js';
import { prefersAsync, runOperation, type OperationContext, type RunResult } from '../operations/runner.js';
import { isChanging } from '../operations/runs.js';
import type { Outcome, Report } from '../reports/schemas.js';

/** Runs an operation for a request: the token's name as actor, the validated body as request. */
export function startRun<R extends Report>(
  c: Context<AppEnv>,
  kind: R['kind'],
  request: object,
  execute: (ctx: OperationContext<R>) => Promise<Outcome<R>>,
): Promise<RunResult<R>> {
  return runOperation<R>(
    c.var.deps,
    {
      kind,
      actor: c.var.principal.name,
      request: { ...request },
      respondAsync: prefersAsync(c.req.header('Prefer')),
      changing: isChanging(kind, { ...request }),
      signal: c.req.raw.signal,
      describeFailure: reportErrorOf,
    },
    execute,
  );
}

/** 200 with the finished report, or 202 with Location when the client preferred async. */
export function answerRun<R extends Report>(c: Context<AppEnv>, result: RunResult<R>) {
  if (result.mode === 'accepted') {
    c.header('Location', `/reports/${result.report.id}`);
    c.header('Preference-Applied', 'respond-async');
    return c.json(result.report, 202);
  }
  return c.json(result.report, 200);
}
