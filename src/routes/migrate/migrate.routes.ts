import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { MIGRATE_DEFAULTS } from '../../operations/migrate.js';
import { migrationReportSchema } from '../../reports/migration.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const migrateBodySchema = z
  .strictObject({
    dryRun: z
      .boolean()
      .default(true)
      .openapi({ description: 'Plan only, changing nothing (scope `run`). `false` migrates (scope `apply`).' }),
    batchSize: z.number().int().min(1).max(50_000).optional().openapi({
      description:
        "Servers per batch; each batch, with all its tools, is one transaction. Left out (the default), the size starts at 2,000 and follows the measured time of each batch towards one second (the report's `batches.sizing`).",
    }),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(4)
      .default(MIGRATE_DEFAULTS.parallelism)
      .openapi({ description: 'Batches copied at once on separate connections (1 on the embedded database).' }),
    serverIds: z
      .array(z.guid())
      .min(1)
      .max(10_000)
      .optional()
      .openapi({ description: 'Migrate only these v1 servers (and their tools).' }),
    planId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be the planId of a dry run')
      .optional()
      .openapi({
        description:
          'The planId of a dry run with the same `serverIds`: a run (`dryRun: false`) then goes ahead only while the database still matches that plan (409 `stale-plan` otherwise). Without it, a run copies whatever is missing.',
      }),
    notify: notifyField,
  })
  .openapi('MigrateRequest');
export type MigrateBody = z.infer<typeof migrateBodySchema>;

export const postMigrate = createRoute({
  method: 'post',
  path: '/migrate',
  operationId: 'migrate',
  tags: ['Operations'],
  summary: 'Copy SARK v1 servers and tools into v2',
  description: [
    'Creates the v2 tables when absent (adopting ones SARK made), then copies every v1 server and its tools',
    'through the canonical mapping with set-based `INSERT ... SELECT` in keyset batches, each its own',
    'transaction. Idempotent and resumable: rows already in v2 are left alone. Holds the advisory lock (409',
    'while another changing operation runs). `dryRun` (the default) changes nothing and reports what would be',
    'copied and skipped.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: migrateBodySchema } } },
  },
  responses: {
    200: {
      description: 'The finished migration report (also stored).',
      content: { 'application/json': { schema: migrationReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
