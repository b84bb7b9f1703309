import type { RouteHandler } from '@hono/zod-openapi';
import { assertScope } from '../../http/auth.js';
import type { AppEnv } from '../../http/create-router.js';
import type { RollbackReport } from '../../reports/rollback.js';
import { answerRun, startRun } from '../operation.js';
import { rollbackBodySchema, type postRollback } from './rollback.routes.js';

export const postRollbackHandler: RouteHandler<typeof postRollback, AppEnv> = async (c) => {
  const input = rollbackBodySchema.parse(c.req.valid('json')); // applies the defaults to an empty body too
  if (!input.dryRun) assertScope(c.var.principal, 'apply', 'a rollback that is not a dry run');
  const result = await startRun<RollbackReport>(c, 'rollback', input);
  return answerRun(c, result);
};
