import { createRouter } from '../../http/create-router.js';
import { postRollbackHandler } from './rollback.handlers.js';
import { postRollback } from './rollback.routes.js';

export const rollbackRouter = createRouter().openapi(postRollback, postRollbackHandler);
