import { reportSchema, type ReportOf } from './schemas.js';
import { batchSizingSchema } from './batches.js';
import { z } from './zod.js';

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
export type TableCounts = z.infer<typeof tableCountsSchema>;
export type SkippedRows = z.infer<typeof skippedSchema>;

export const migrationReportSchema = reportSchema
  .extend({
    kind: z.literal('migration'),
    status: z.enum(['running', 'succeeded', 'failed']),
    summary: z.object({
      message: z.string(),
      copied: z.number().int(),
      toCopy: z.number().int().openapi({ description: 'A dry run: rows it would copy; a run: rows it copied.' }),
      alreadyPresent: z.number().int(),
      skipped: z.number().int(),
    }),
    dryRun: z.boolean(),
    planId: z.string().nullable().openapi({
      description:
        "A dry run: the plan's fingerprint, to pass to a run (`dryRun: false`) that must find the database as planned. A run: the planId it was given, or null.",
    }),
    v1Shape: z.enum(['orm', 'migration']).openapi({
      description: '`orm`: mcp_tools.parameters with the counters; `migration`: parameters_schema without them.',
    }),
    v1: z.object({ toolSchemaColumn: z.enum(['parameters', 'parameters_schema']), toolCounters: z.boolean() }),
    schema: z.object({
      migrations: z
        .array(
          z.object({
            tag: z.string(),
            outcome: z.enum(['applied', 'adopted', 'already-applied', 'would-apply', 'would-adopt']),
          }),
        )
        .openapi({
          description: [
            "SARK's v2 tables: created, adopted (SARK made them already), or already there. The service's own",
            'schema is not here: /health reports it.',
          ].join(' '),
        }),
    }),
    tables: z.object({ resources: tableCountsSchema, capabilities: tableCountsSchema }),
    unknownServerIds: z.array(z.string()).openapi({ description: 'Requested serverIds that are not v1 servers.' }),
    batches: z.object({
      size: z
        .number()
        .int()
        .openapi({ description: 'Servers in the first batch (sizing tells how the rest were chosen).' }),
      sizing: batchSizingSchema.optional(),
      parallelism: z.number().int(),
      planned: z.number().int(),
      committed: z.number().int(),
      retries: z.number().int(),
    }),
    timings: z
      .record(z.string(), z.number())
      .openapi({ description: 'Milliseconds per phase (schema, plan, data, analyze).' }),
  })
  .openapi('MigrationReport');
export type MigrationReport = ReportOf<typeof migrationReportSchema>;
