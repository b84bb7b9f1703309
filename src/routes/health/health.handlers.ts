import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../lib/create-router.js';
import { ProblemError } from '../../lib/errors.js';
import { checkHealth } from '../../operations/health.js';
import type { getHealth } from './health.routes.js';

export const getHealthHandler: RouteHandler<typeof getHealth, AppEnv> = async (c) => {
  const { status, ...health } = await checkHealth(c.var.deps);
  c.header('Cache-Control', 'no-store');
  if (status !== 'ok') {
    const detail = health.database.reachable
      ? 'The report store does not answer.'
      : 'The SARK database cannot be reached.';
    throw new ProblemError(503, 'unavailable', 'Service unavailable', detail, health);
  }
  return c.json({ status, ...health }, 200);
};
