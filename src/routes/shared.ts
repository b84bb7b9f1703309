import { z } from '@hono/zod-openapi';
import { problemResponses } from '../http/problems.js';
import { reportSchema } from '../reports/schemas.js';

/** What every operation route shares: bearer security, the async preference, the 202 answer. */
export const bearerSecurity = [{ bearerAuth: [] }];

export const preferHeaders = z.object({
  prefer: z.string().optional().openapi({
    description:
      '`respond-async`: answer 202 at once with `Location: /reports/{id}`; the report shows progress until it ends.',
    example: 'respond-async',
  }),
});

export const acceptedResponse = {
  description: [
    'Accepted: the report, stored with `status: "running"`; poll `Location`. Always with `Prefer: respond-async`',
    '(`Preference-Applied` says so). On Workers, where every run is a Workflow, also without it when the run has',
    'not ended within the synchronous budget (20 s, `SYNC_BUDGET_MS`); Node answers synchronously unless asked.',
  ].join(' '),
  headers: z.object({
    Location: z.string().openapi({ description: '/reports/{id}' }),
    'Preference-Applied': z.literal('respond-async').optional(),
  }),
  content: { 'application/json': { schema: reportSchema } },
};

export const operationProblems = problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 503);

/**
 * Where the run's signed summary is POSTed when it ends (Standard Webhooks; docs/operations.md,
 * Notifications). Its policy (https, a public host) depends on the configuration: checked by
 * startRun, which refuses the request with 400 naming `notify`.
 */
export const notifyField = z
  .url()
  .max(2048)
  .optional()
  .openapi({
    description: [
      'https URL on a public host: when the run ends (or, with respond-async, is refused before it starts), its',
      'summary (id, kind, status, summary, exitCode, finishedAt, link) is POSTed there, signed per Standard Webhooks',
      'with NOTIFY_SECRET, retried on 5xx and timeouts; each attempt is recorded in the report. Default: NOTIFY_URL.',
    ].join(' '),
    example: 'https://ci.example.com/hooks/sark-migrate',
  });
