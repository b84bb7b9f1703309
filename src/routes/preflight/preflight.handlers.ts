import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import type { PreflightReport } from '../../reports/preflight.js';
import { answerRun, startRun } from '../operation.js';
import { preflightBodySchema, type postPreflight } from './preflight.routes.js';

export const postPreflightHandler: RouteHandler<typeof postPreflight, AppEnv> = async (c) => {
  const input = preflightBodySchema.parse(c.req.valid('json')); // applies the defaults to an empty body too
  const result = await startRun<PreflightReport>(c, 'preflight', input);
  return answerRun(c, result);
};
