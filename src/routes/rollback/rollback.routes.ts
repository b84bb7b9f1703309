import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { ROLLBACK_DEFAULTS } from '../../operations/rollback/index.js';
import { rollbackReportSchema } from '../../reports/rollback.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';
import { text } from '../../reports/text.js';

export const rollbackBodySchema = z
  .strictObject({
    dryRun: z
      .boolean()
      .default(true)
      .openapi({ description: 'Plan only (scope `run`), with a `planId`. `false` rolls back (scope `apply`).' }),
    resourceIds: z
      .array(text(255))
      .min(1)
      .max(10_000)
      .optional()
      .openapi({ description: 'Roll back only these MCP resources.' }),
    planId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be the planId of a dry run')
      .optional()
      .openapi({
        description:
          'The planId of a dry run: required for a run (`dryRun: false`), which is refused (409 `stale-plan`) unless the database still matches the plan.',
      }),
    backportChanges: z
      .boolean()
      .default(false)
      .openapi({ description: 'Write v2 values of rows changed after cutover back into v1 before removing them.' }),
    batchSize: z.number().int().min(1).max(50_000).optional().openapi({
      description:
        "Resources per batch (about: a batch is a range of pages); each batch, with its archive, is one transaction. Left out (the default), the size starts at 5,000 and follows the measured time of each batch towards one second (the report's `batches.sizing`).",
    }),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(4)
      .default(ROLLBACK_DEFAULTS.parallelism)
      .openapi({ description: 'Batches rolled back at once on separate connections (1 on the embedded database).' }),
    notify: notifyField,
  })
  // A run removes rows: it goes ahead only on a plan someone has seen (the dry run's planId).
  .superRefine((body, ctx) => {
    if (body.dryRun === false && body.planId === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['planId'],
        message: 'is required for a run (dryRun: false): make a dry run, review its plan, and pass its planId',
      });
  })
  .openapi('RollbackRequest');

export const postRollback = createRoute({
  method: 'post',
  path: '/rollback',
  operationId: 'rollback',
  tags: ['Operations'],
  summary: 'Undo the migration, keeping what was born or changed in v2',
  description: [
    'Removes the MCP resources of v1 origin (their capabilities cascade) and never touches other protocols,',
    'cost_tracking, federation_nodes or principal_budgets. Rows born in v2 are written back into v1 first (or',
    'stay, with the reason); rows changed after cutover are listed as divergent (and backported with',
    '`backportChanges`). Every removed row is archived in the same transaction as its delete. A run works in',
    'batches that each commit with their archive: a failure leaves whole batches, and a re-run completes. A',
    'run lists divergent rows only with `backportChanges`; the dry run always does. Holds the advisory lock;',
    'writers wait only for the resources of the batches in flight.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: rollbackBodySchema } } },
  },
  responses: {
    200: {
      description: 'The rollback report (also stored).',
      content: { 'application/json': { schema: rollbackReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
