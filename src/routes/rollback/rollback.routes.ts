import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { ROLLBACK_DEFAULTS } from '../../operations/rollback.js';
import { reportSchema } from '../../reports/schemas.js';
import { acceptedResponse, bearerSecurity, operationProblems, preferHeaders } from '../shared.js';

export const rollbackBodySchema = z
  .strictObject({
    dryRun: z
      .boolean()
      .default(true)
      .openapi({ description: 'Plan only (scope `run`), with a `planId`. `false` rolls back (scope `apply`).' }),
    resourceIds: z
      .array(z.string().min(1).max(255))
      .min(1)
      .max(10_000)
      .optional()
      .openapi({ description: 'Roll back only these MCP resources.' }),
    planId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be the planId of a dry run')
      .optional()
      .openapi({ description: 'Refuse (409) unless the database still matches this plan.' }),
    backportChanges: z
      .boolean()
      .default(false)
      .openapi({ description: 'Write v2 values of rows changed after cutover back into v1 before removing them.' }),
    batchSize: z.number().int().min(1).max(50_000).default(ROLLBACK_DEFAULTS.batchSize).openapi({
      description:
        'Resources per batch (about: a batch is a range of pages); each batch, with its archive, is one transaction.',
    }),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(4)
      .default(ROLLBACK_DEFAULTS.parallelism)
      .openapi({ description: 'Batches rolled back at once on separate connections (1 on the embedded database).' }),
  })
  .openapi('RollbackRequest');

export const rollbackReportSchema = reportSchema
  .extend({
    kind: z.literal('rollback'),
    dryRun: z.boolean(),
    planId: z.string().nullable(),
    backportChanges: z.boolean().optional(),
    tables: z.record(z.string(), z.record(z.string(), z.number())).openapi({
      description:
        'Counts per table. A dry run: `resources.inScope`, `v1Origin`, `toRemove`; `capabilities.toRemove`, `orphans`. A run: `removed`, `writtenBack`, `backported` (and `capabilities.orphans`), and `resources.remaining`, the MCP resources in scope still in v2 when the run ended: born ones that stay (listed in `bornInV2`) and any changed or added during the run, which a re-run takes.',
    }),
    bornInV2: z.object({
      rows: z.array(
        z.object({ table: z.string(), id: z.string(), outcome: z.string(), reason: z.string().optional() }),
      ),
      truncated: z.boolean(),
    }),
    divergent: z
      .object({
        rows: z.array(z.object({ table: z.string(), id: z.string(), fields: z.array(z.string()) })),
        truncated: z.boolean(),
        listed: z.boolean().openapi({
          description:
            'false in a run without `backportChanges`: the dry run lists these rows, and the archive keeps them.',
        }),
        note: z.string().optional(),
      })
      .openapi({ description: 'Rows of v1 origin changed after cutover, with the fields that differ.' }),
    batches: z
      .object({
        size: z.number().int(),
        parallelism: z.number().int(),
        planned: z.number().int(),
        committed: z.number().int(),
        retries: z.number().int(),
        archivedWhole: z.number().int().openapi({
          description:
            'Committed batches of v1-origin resources that archived all their capabilities in one pass, checking each against v1 as they went.',
        }),
        fellBack: z.number().int().openapi({
          description:
            'Committed batches whose one pass found a capability born in v2: undone to a savepoint, they wrote it back first, as the other batches do.',
        }),
      })
      .optional()
      .openapi({
        description:
          'A run: its batches, the last of which takes what no page range held (a subset, rows moved meanwhile) and orphans.',
      }),
    archive: z.record(z.string(), z.unknown()).nullable().openapi({
      description:
        'Where a run kept every row it removed, under its `rollbackId`: the views `sark_migrate.archived_resources` and `sark_migrate.archived_capabilities`, with the columns of `resources` and `capabilities` (they read compressed packs of up to 200 rows). `INSERT INTO resources SELECT id, name, ... FROM sark_migrate.archived_resources WHERE rollback_id = $1` undoes the run.',
    }),
  })
  .openapi('RollbackReport');

export const postRollback = createRoute({
  method: 'post',
  path: '/rollback',
  operationId: 'rollback',
  tags: ['Operations'],
  summary: 'Undo the migration, keeping what was born or changed in v2',
  description:
    'Removes the MCP resources of v1 origin (their capabilities cascade) and never touches other protocols, cost_tracking, federation_nodes or principal_budgets. Rows born in v2 are written back into v1 first (or stay, with the reason); rows changed after cutover are listed as divergent (and backported with `backportChanges`). Every removed row is archived in the same transaction as its delete. A run works in batches that each commit with their archive: a failure leaves whole batches, and a re-run completes. A run lists divergent rows only with `backportChanges`; the dry run always does. Holds the advisory lock; writers wait only for the resources of the batches in flight.',
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
