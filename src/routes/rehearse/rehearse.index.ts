import { createRouter } from '../../http/create-router.js';
import { postRehearseHandler } from './rehearse.handlers.js';
import { postRehearse } from './rehearse.routes.js';

export const rehearseRouter = createRouter().openapi(postRehearse, postRehearseHandler);
