import { createRouter } from '../../http/create-router.js';
import { postPreflightHandler } from './preflight.handlers.js';
import { postPreflight } from './preflight.routes.js';

export const preflightRouter = createRouter().openapi(postPreflight, postPreflightHandler);
