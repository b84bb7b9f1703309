import { reportSchema, type ReportOf } from './schemas.js';
import { batchSizingSchema } from './batches.js';
import { z } from './zod.js';

const count = () => z.number().int();

const plannedCountsSchema = z
  .object({
    resources: z.object({
      inScope: count().openapi({ description: 'MCP resources in scope.' }),
      v1Origin: count().openapi({ description: 'Of them, those with a v1 server.' }),
      toRemove: count().openapi({ description: 'Those that leave v2 (of v1 origin, or born in v2 and written back).' }),
    }),
    capabilities: z.object({
      toRemove: count().openapi({ description: 'Capabilities that leave v2 with their resource, orphans included.' }),
      orphans: count().openapi({ description: 'Capabilities of v1 origin whose resource is gone.' }),
    }),
  })
  .openapi('RollbackPlannedCounts', { description: 'A dry run: what a run would remove.' });

const runCountsSchema = z
  .object({
    resources: z.object({
      removed: count(),
      writtenBack: count().openapi({ description: 'Born in v2, written into v1 before their removal.' }),
      backported: count().openapi({ description: 'Of v1 origin and changed in v2: v1 took their changed fields.' }),
      remaining: count()
        .optional()
        .openapi({
          description: [
            'The MCP resources in scope still in v2 when the run ended: born ones that stay (listed in',
            '`bornInV2`) and any changed or added during the run, which a re-run takes.',
          ].join(' '),
        }),
    }),
    capabilities: z.object({
      removed: count(),
      orphans: count(),
      writtenBack: count(),
      backported: count(),
    }),
  })
  .openapi('RollbackRunCounts', { description: 'A run: what it did (committed batches only).' });

export const archiveExportSchema = z
  .object({
    table: z.enum(['resources', 'capabilities']),
    key: z.string().openapi({ description: 'The object in the report store (R2, or a file under REPORTS_DIR).' }),
    rows: count(),
    bytes: count().openapi({ description: 'The size of the object (gzip-compressed).' }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .openapi({ description: 'SHA-256 of the uncompressed NDJSON (what `gunzip -c | sha256sum` prints).' }),
  })
  .openapi('RollbackArchiveExport', {
    description: 'One archived table as gzip-compressed NDJSON, one row a line (docs/restore.md).',
  });

export type PlannedCounts = z.infer<typeof plannedCountsSchema>;
export type RunCounts = z.infer<typeof runCountsSchema>;

export const rollbackReportSchema = reportSchema
  .extend({
    kind: z.literal('rollback'),
    status: z.enum(['running', 'succeeded', 'failed']),
    summary: z.object({
      message: z.string(),
      removed: count().openapi({ description: 'Resources and capabilities removed (a dry run: to remove).' }),
      bornInV2: count(),
      divergent: count().nullable().openapi({ description: 'null where the run did not list them.' }),
    }),
    dryRun: z.boolean(),
    planId: z.string().nullable(),
    backportChanges: z.boolean(),
    tables: z.union([plannedCountsSchema, runCountsSchema]).openapi({ description: 'Counts per table.' }),
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
        size: z
          .number()
          .int()
          .openapi({ description: 'Resources in the first batch (sizing tells how the rest were chosen).' }),
        sizing: batchSizingSchema.optional(),
        parallelism: z.number().int(),
        planned: z.number().int(),
        committed: z.number().int(),
        retries: z.number().int(),
        archivedWhole: z
          .number()
          .int()
          .openapi({
            description: [
              'Committed batches of v1-origin resources that archived all their capabilities in one pass,',
              'checking each against v1 as they went.',
            ].join(' '),
          }),
        fellBack: z
          .number()
          .int()
          .openapi({
            description: [
              'Committed batches whose one pass found a capability born in v2: undone to a savepoint, they',
              'wrote it back first, as the other batches do.',
            ].join(' '),
          }),
      })
      .optional()
      .openapi({
        description: [
          'A run: its batches, the last of which takes what no page range held (a subset, rows moved',
          'meanwhile) and orphans.',
        ].join(' '),
      }),
    archive: z
      .object({
        rollbackId: z
          .string()
          .nullable()
          .openapi({ description: 'The run whose removed rows these are; null in a plan.' }),
        resources: z.literal('sark_migrate.archived_resources'),
        capabilities: z.literal('sark_migrate.archived_capabilities'),
        note: z.string().optional(),
        exportStatus: z
          .enum(['exported', 'failed'])
          .optional()
          .openapi({
            description: [
              "A run that completed: whether its archive was also written to the report store's objects.",
              'A failed export leaves the rollback as it committed (the archive is still in the database).',
            ].join(' '),
          }),
        exportError: z.string().optional().openapi({ description: 'Why the export failed.' }),
        exports: z
          .array(archiveExportSchema)
          .optional()
          .openapi({ description: 'The exported objects, one per archived table; POST /restore reads them.' }),
      })
      .openapi({
        description: [
          'Where a run keeps every row it removes, under its `rollbackId`: the views',
          '`sark_migrate.archived_resources` and `sark_migrate.archived_capabilities`, with the columns of',
          '`resources` and `capabilities` (they read compressed packs of up to 200 rows). docs/rollback.md',
          'shows the INSERT ... SELECT, with its column lists, that undoes a run.',
        ].join(' '),
      }),
  })
  .openapi('RollbackReport');
export type RollbackReport = ReportOf<typeof rollbackReportSchema>;
