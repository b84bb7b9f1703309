import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { MIGRATE_DEFAULTS } from '../../operations/migrate.js';
import { reportSchema } from '../../reports/schemas.js';
import { acceptedResponse, bearerSecurity, operationProblems, preferHeaders } from '../shared.js';

export const migrateBodySchema = z
  .strictObject({
    dryRun: z
      .boolean()
      .default(true)
      .openapi({ description: 'Plan only, changing nothing (scope `run`). `false` migrates (scope `apply`).' }),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(50_000)
      .default(MIGRATE_DEFAULTS.batchSize)
      .openapi({ description: 'Servers per batch; each batch, with all its tools, is one transaction.' }),
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
  })
  .openapi('MigrateRequest');
export type MigrateBody = z.infer<typeof migrateBodySchema>;

const skippedSchema = z.object({
  count: z.number().int(),
  rows: z.array(z.object({ id: z.string(), reason: z.string() })),
  truncated: z.boolean().openapi({ description: 'More rows were skipped than listed.' }),
});

const tableCountsSchema = z.object({
  planned: z.number().int().openapi({ description: 'v1 rows in scope.' }),
  toCopy: z
    .number()
    .int()
    .openapi({ description: 'Rows not yet in v2 that can be copied, as planned before the run.' }),
  copied: z.number().int(),
  alreadyPresent: z.number().int(),
  skipped: skippedSchema,
});

export const migrationReportSchema = reportSchema
  .extend({
    kind: z.literal('migration'),
    dryRun: z.boolean(),
    v1Shape: z.enum(['orm', 'migration']).openapi({
      description: '`orm`: mcp_tools.parameters with the counters; `migration`: parameters_schema without them.',
    }),
    v1: z.object({ toolSchemaColumn: z.enum(['parameters', 'parameters_schema']), toolCounters: z.boolean() }),
    schema: z.object({
      migrations: z.array(
        z.object({
          tag: z.string(),
          outcome: z.enum(['applied', 'adopted', 'already-applied', 'would-apply', 'would-adopt']),
        }),
      ),
    }),
    tables: z.object({ resources: tableCountsSchema, capabilities: tableCountsSchema }),
    unknownServerIds: z.array(z.string()).openapi({ description: 'Requested serverIds that are not v1 servers.' }),
    batches: z.object({
      size: z.number().int(),
      parallelism: z.number().int(),
      planned: z.number().int(),
      committed: z.number().int(),
      retries: z.number().int(),
    }),
    timings: z.record(z.string(), z.number()),
  })
  .openapi('MigrationReport');

export const postMigrate = createRoute({
  method: 'post',
  path: '/migrate',
  operationId: 'migrate',
  tags: ['Operations'],
  summary: 'Copy SARK v1 servers and tools into v2',
  description:
    'Creates the v2 tables when absent (adopting ones SARK made), then copies every v1 server and its tools through the canonical mapping with set-based `INSERT ... SELECT` in keyset batches, each its own transaction. Idempotent and resumable: rows already in v2 are left alone. Holds the advisory lock (409 while another changing operation runs). `dryRun` (the default) changes nothing and reports what would be copied and skipped.',
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
