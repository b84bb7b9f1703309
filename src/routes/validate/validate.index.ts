import { createRouter } from '../../http/create-router.js';
import { postValidateHandler } from './validate.handlers.js';
import { postValidate } from './validate.routes.js';

export const validateRouter = createRouter().openapi(postValidate, postValidateHandler);
