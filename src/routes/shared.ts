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
