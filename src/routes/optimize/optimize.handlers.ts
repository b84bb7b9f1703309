import type { RouteHandler } from '@hono/zod-openapi';
import { assertScope } from '../../http/auth.js';
import type { AppEnv } from '../../http/create-router.js';
import type { OptimizationReport } from '../../reports/optimization.js';
import { answerRun, startRun } from '../operation.js';
import { optimizeBodySchema, type postOptimize } from './optimize.routes.js';

export const postOptimizeHandler: RouteHandler<typeof postOptimize, AppEnv> = async (c) => {
  const input = optimizeBodySchema.parse(c.req.valid('json')); // applies the defaults to an empty body too
  if (input.action === 'apply') assertScope(c.var.principal, 'apply', 'building indexes (action apply)');
  const result = await startRun<OptimizationReport>(c, 'optimization', input);
  return answerRun(c, result);
};
