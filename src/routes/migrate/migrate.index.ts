import { createRouter } from '../../http/create-router.js';
import { postMigrateHandler } from './migrate.handlers.js';
import { postMigrate } from './migrate.routes.js';

export const migrateRouter = createRouter().openapi(postMigrate, postMigrateHandler);
