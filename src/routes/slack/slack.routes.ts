import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../../http/problems.js';
import { slackSigned } from '../../http/slack.js';

/** Slack signs every request; its signature is the only credential these routes take. */
export const slackSecurity = [{ slackSignature: [] }];

const slashCommandForm = z
  .looseObject({
    team_id: z.string().optional().openapi({ example: 'T0001' }),
    user_id: z.string().optional().openapi({ example: 'U0001' }),
    command: z.string().optional().openapi({ example: '/sark' }),
    text: z
      .string()
      .optional()
      .openapi({ description: '`<command> [args]`; empty or `help` lists the commands.', example: 'validate quick' }),
    response_url: z
      .string()
      .optional()
      .openapi({ description: 'Where the result is posted (https on hooks.slack.com).' }),
  })
  .openapi('SlackSlashCommand', { description: "Slack's slash command form, as Slack sends it." });

const interactionForm = z
  .looseObject({
    payload: z.string().optional().openapi({
      description:
        'JSON of a `block_actions` payload: `user`, `team`, `actions` (the Apply or Cancel button with its `value`), `response_url`.',
    }),
  })
  .openapi('SlackInteraction', { description: "Slack's interactivity request, as Slack sends it." });

const slackMessageSchema = z
  .looseObject({
    response_type: z.enum(['ephemeral', 'in_channel']).optional(),
    text: z.string(),
    blocks: z.array(z.record(z.string(), z.unknown())).optional().openapi({ description: 'Block Kit blocks.' }),
  })
  .openapi('SlackMessage', { description: 'A Slack message (Block Kit).' });

const signedHeaders = z.object({
  'x-slack-request-timestamp': z
    .string()
    .optional()
    .openapi({ description: 'Unix time; more than 5 minutes off is refused.' }),
  'x-slack-signature': z
    .string()
    .optional()
    .openapi({ description: '`v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}`.' }),
});

const refusals = {
  ...problemResponses(401, 413, 503),
  401: {
    description: 'No Slack signature, a wrong one, or a timestamp more than 5 minutes off: nothing ran.',
    content: problemResponses(401)[401].content,
  },
  503: {
    description: 'The Slack door is off: `SLACK_SIGNING_SECRET` is not configured.',
    content: problemResponses(503)[503].content,
  },
};

export const postSlackCommand = createRoute({
  method: 'post',
  path: '/chatops/slack',
  operationId: 'slackCommand',
  tags: ['Chatops'],
  summary: 'Slack slash command `/sark <command> [args]`',
  description: [
    "Verifies Slack's signature before reading the form, then answers at once (Slack waits 3 s): an ephemeral",
    'acknowledgement, a usage message, or a refusal for a user `SLACK_PRINCIPALS` does not name. The work runs in',
    "the background (in the process on Node, a Workflow on Workers) and its result is posted to the command's",
    '`response_url` as Block Kit, with Apply and Cancel under a plan. The actor of its report is',
    '`slack:<team>/<user>`. See docs/slack.md.',
  ].join(' '),
  security: slackSecurity,
  middleware: [slackSigned()] as const,
  request: {
    headers: signedHeaders,
    body: { required: false, content: { 'application/x-www-form-urlencoded': { schema: slashCommandForm } } },
  },
  responses: {
    200: {
      description: 'The acknowledgement (ephemeral); the result follows on `response_url`.',
      content: { 'application/json': { schema: slackMessageSchema } },
    },
    ...refusals,
  },
});

export const postSlackInteraction = createRoute({
  method: 'post',
  path: '/chatops/slack/interactions',
  operationId: 'slackInteraction',
  tags: ['Chatops'],
  summary: 'Slack interactivity: the Apply and Cancel buttons under a plan',
  description: [
    "Verifies Slack's signature again, and that the user who clicked Apply holds the `apply` scope; then applies",
    "the plan the button carries (a rollback's `planId`, an optimize plan's index names, a migration's dry run) in",
    "the background and posts the result to the interaction's `response_url`. A stale plan is answered with a new",
    'plan and what changed. The answer itself is an empty 200, as Slack expects.',
  ].join(' '),
  security: slackSecurity,
  middleware: [slackSigned()] as const,
  request: {
    headers: signedHeaders,
    body: { required: false, content: { 'application/x-www-form-urlencoded': { schema: interactionForm } } },
  },
  responses: {
    200: { description: 'Acknowledged, with an empty body; what follows is posted to `response_url`.' },
    ...problemResponses(400),
    ...refusals,
  },
});
