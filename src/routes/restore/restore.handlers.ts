import type { RouteHandler } from '@hono/zod-openapi';
import { assertScope } from '../../http/auth.js';
import type { AppEnv } from '../../http/create-router.js';
import { HttpProblem } from '../../http/problems.js';
import type { ReportId } from '../../reports/ids.js';
import type { RestoreReport } from '../../reports/restore.js';
import { answerRun, startRun } from '../operation.js';
import { restoreBodySchema, type postRestore } from './restore.routes.js';

export const postRestoreHandler: RouteHandler<typeof postRestore, AppEnv> = async (c) => {
  const input = restoreBodySchema.parse(c.req.valid('json'));
  // Scope `apply`, for a dry run too: it reads archived rows back; like /rollback, a bad body is named first.
  assertScope(c.var.principal, 'apply', input.dryRun ? 'a restore, even a dry run' : 'a restore');
  // The rollback report is read before the run starts: a wrong id is the answer, not a failed report.
  const rollback = await c.var.deps.store.get(input.rollbackReportId as ReportId);
  if (!rollback) throw new HttpProblem('not-found', `No report has the id ${input.rollbackReportId}.`);
  const why =
    rollback.kind !== 'rollback'
      ? `is a ${rollback.kind} report, not a rollback`
      : rollback.dryRun !== false
        ? 'is a dry run (a plan): it removed and archived nothing'
        : rollback.status === 'running'
          ? 'is a rollback still running: restore it once it has ended'
          : null;
  if (why)
    throw new HttpProblem('bad-request', `rollbackReportId must name a finished rollback run: it ${why}.`, {
      errors: [{ field: 'rollbackReportId', in: 'body', message: why }],
    });
  const result = await startRun<RestoreReport>(c, 'restore', input);
  return answerRun(c, result);
};
