import { createRouter } from '../../http/create-router.js';
import { postSlackCommandHandler, postSlackInteractionHandler } from './slack.handlers.js';
import { postSlackCommand, postSlackInteraction } from './slack.routes.js';

export const slackRouter = createRouter()
  .openapi(postSlackCommand, postSlackCommandHandler)
  .openapi(postSlackInteraction, postSlackInteractionHandler);
