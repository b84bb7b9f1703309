import type { RouteHandler } from '@hono/zod-openapi';
import { assertScope } from '../../http/auth.js';
import type { AppEnv } from '../../http/create-router.js';
import type { MigrationReport } from '../../reports/migration.js';
import { migrateBodySchema, type postMigrate } from './migrate.routes.js';
import { answerRun, startRun } from '../operation.js';

export const postMigrateHandler: RouteHandler<typeof postMigrate, AppEnv> = async (c) => {
  // An empty body skips the validator; parsing here applies the defaults either way.
  const input = migrateBodySchema.parse(c.req.valid('json'));
  if (!input.dryRun) assertScope(c.var.principal, 'apply', 'a migration that is not a dry run');
  const result = await startRun<MigrationReport>(c, 'migration', input);
  return answerRun(c, result);
};
