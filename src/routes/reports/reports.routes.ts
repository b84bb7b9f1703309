import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { problemResponses } from '../../http/problems.js';
import { reportIdSchema, reportKindSchema, reportListSchema, reportSchema } from '../../reports/schemas.js';

const security = [{ bearerAuth: [] }];

export const listReports = createRoute({
  method: 'get',
  path: '/reports',
  operationId: 'listReports',
  tags: ['Reports'],
  summary: 'List stored reports, newest first',
  security,
  middleware: [requireScope('read')] as const,
  request: {
    query: z.strictObject({
      kind: reportKindSchema.optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size, 1 to 100.' }),
      cursor: reportIdSchema.optional().openapi({ description: 'The `nextCursor` of the previous page.' }),
    }),
  },
  responses: {
    200: {
      description: 'One page of report summaries.',
      content: { 'application/json': { schema: reportListSchema } },
    },
    ...problemResponses(400, 401, 403, 503),
  },
});

export const getReport = createRoute({
  method: 'get',
  path: '/reports/{id}',
  operationId: 'getReport',
  tags: ['Reports'],
  summary: 'Read one stored report',
  security,
  middleware: [requireScope('read')] as const,
  request: { params: z.object({ id: reportIdSchema.openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: {
    200: {
      description: 'The report exactly as the operation answered it (or, while it runs, its progress).',
      content: { 'application/json': { schema: reportSchema } },
    },
    ...problemResponses(400, 401, 403, 404, 503),
  },
});

export const cancelReport = createRoute({
  method: 'post',
  path: '/reports/{id}/cancel',
  operationId: 'cancelRun',
  tags: ['Reports'],
  summary: 'Cancel a running operation',
  description: [
    'Asks the run to stop at its next step boundary (a batch, a check group, a pattern, an index build), from any',
    'door and whichever process or Workflow runs it. What committed stays; the report ends `cancelled` with what',
    'was done, and a changing run releases its lease. Needs `run`, and `apply` for a changing run (a migration or',
    'rollback that is not a dry run, an optimize `apply`).',
  ].join(' '),
  security,
  middleware: [requireScope('run')] as const,
  request: { params: z.object({ id: reportIdSchema.openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: {
    202: {
      description: 'The cancel is asked for: the report as it is now, still `running`; poll `Location` until it ends.',
      headers: z.object({ Location: z.string().openapi({ description: '/reports/{id}' }) }),
      content: { 'application/json': { schema: reportSchema } },
    },
    ...problemResponses(400, 401, 403, 404, 409, 503),
  },
});
