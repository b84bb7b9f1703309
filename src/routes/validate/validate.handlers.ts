import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import type { ValidationReport } from '../../reports/validation.js';
import { answerRun, startRun } from '../operation.js';
import { validateBodySchema, type postValidate } from './validate.routes.js';

export const postValidateHandler: RouteHandler<typeof postValidate, AppEnv> = async (c) => {
  const input = validateBodySchema.parse(c.req.valid('json')); // applies the defaults to an empty body too
  const result = await startRun<ValidationReport>(c, 'validation', input);
  return answerRun(c, result);
};
