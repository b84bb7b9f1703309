import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import { authenticate } from '../../http/auth.js';
import { HttpProblem } from '../../http/problems.js';
import { checkHealth } from '../../operations/health.js';
import type { getHealth } from './health.routes.js';

export const getHealthHandler: RouteHandler<typeof getHealth, AppEnv> = async (c) => {
  c.header('Cache-Control', 'no-store');
  // Anonymous: liveness only. Nothing here may cost the database a connection.
  if (c.req.header('Authorization') === undefined)
    return c.json({ status: 'ok' as const, runtime: c.var.runtime, check: 'liveness' as const }, 200);
  await authenticate(c, 'any');
  const { status, ...checked } = await checkHealth(c.var.deps);
  const health = { runtime: c.var.runtime, check: 'deep' as const, ...checked };
  if (status !== 'ok') {
    const detail = health.database.reachable
      ? 'The report store does not answer.'
      : 'The SARK database cannot be reached.';
    throw new HttpProblem('unavailable', detail, { facts: health });
  }
  return c.json({ status, ...health }, 200);
};
