import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import type { RehearsalReport } from '../../reports/rehearsal.js';
import { answerRun, startRun } from '../operation.js';
import { rehearseBodySchema, type postRehearse } from './rehearse.routes.js';

export const postRehearseHandler: RouteHandler<typeof postRehearse, AppEnv> = async (c) => {
  const { benchmark, ...input } = rehearseBodySchema.parse(c.req.valid('json')); // the defaults, for an empty body too
  const result = await startRun<RehearsalReport>(c, 'rehearsal', { ...input, ...benchmark });
  return answerRun(c, result);
};
