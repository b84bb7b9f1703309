import { createRouter } from '../../http/create-router.js';
import { postOptimizeHandler } from './optimize.handlers.js';
import { postOptimize } from './optimize.routes.js';

export const optimizeRouter = createRouter().openapi(postOptimize, postOptimizeHandler);
