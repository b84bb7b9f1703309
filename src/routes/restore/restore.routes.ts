import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { reportIdSchema } from '../../reports/schemas.js';
import { restoreReportSchema } from '../../reports/restore.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const restoreBodySchema = z
  .strictObject({
    rollbackReportId: reportIdSchema.openapi({
      description: 'The report of the rollback run (not a dry run) whose archived rows go back into v2.',
    }),
    dryRun: z.boolean().default(true).openapi({
      description: 'Check only: what would be restored, and which rows collide. `false` restores.',
    }),
    notify: notifyField,
  })
  .openapi('RestoreRequest');

export const postRestore = createRoute({
  method: 'post',
  path: '/restore',
  operationId: 'restore',
  tags: ['Operations'],
  summary: "Put a rollback's archived rows back into v2",
  description: [
    'Reads the rows a rollback run removed from its archive in the database, or, when the archive tables no',
    'longer hold them, from the objects the run exported to the report store (checked against their SHA-256',
    'first), and inserts them into `resources` and `capabilities` exactly as they were (every column, same ids).',
    'A row whose id v2 already holds refuses the whole restore with a 409 naming it; nothing is written. A run',
    '(`dryRun: false`) holds the lease and writes in one transaction: every row, or none. Scope `apply`, for the',
    'dry run too: it reads the archived rows back. docs/restore.md.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const, // and `apply`, checked after the body (restore.handlers.ts)
  request: {
    headers: preferHeaders,
    body: { required: true, content: { 'application/json': { schema: restoreBodySchema } } },
  },
  responses: {
    200: {
      description: 'The restore report (also stored).',
      content: { 'application/json': { schema: restoreReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
