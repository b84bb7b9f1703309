import { createRouter } from '../../http/create-router.js';
import { postRestoreHandler } from './restore.handlers.js';
import { postRestore } from './restore.routes.js';

export const restoreRouter = createRouter().openapi(postRestore, postRestoreHandler);
