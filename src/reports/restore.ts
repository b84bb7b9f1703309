import { reportSchema, type ReportOf } from './schemas.js';
import { z } from './zod.js';

const count = () => z.number().int();

const restoreTableSchema = z
  .object({
    rows: count().openapi({ description: 'Rows the rollback archived (and /restore reads back).' }),
    restored: count().openapi({ description: 'Rows put back into v2 (0 in a dry run, and where refused).' }),
    colliding: count().openapi({ description: 'Of the rows, those whose id a row of v2 already holds.' }),
    collisions: z
      .array(z.string())
      .openapi({ description: 'Ids of colliding rows, the first ones in id order (up to 100).' }),
  })
  .openapi('RestoreTable');
export type RestoreTable = z.infer<typeof restoreTableSchema>;

export const restoreReportSchema = reportSchema
  .extend({
    kind: z.literal('restore'),
    status: z.enum(['running', 'succeeded', 'failed']),
    summary: z.object({
      message: z.string(),
      restored: count().openapi({ description: 'Rows put back (a dry run: that would be).' }),
      colliding: count().openapi({
        description: 'Rows refused because v2 holds their id: any refuses the whole restore.',
      }),
    }),
    dryRun: z.boolean(),
    rollbackReportId: z.string(),
    rollbackId: z.string().openapi({ description: 'The run whose archived rows these are.' }),
    source: z.enum(['archive', 'exports']).openapi({
      description: [
        "Where the rows came from: the archive's tables in the database while they hold the run's rows,",
        "else the objects the run exported to the report store (each checked against the rollback report's",
        'SHA-256 and row count before anything is written).',
      ].join(' '),
    }),
    tables: z.object({ resources: restoreTableSchema, capabilities: restoreTableSchema }),
    verified: z
      .array(z.object({ table: z.string(), key: z.string(), rows: count(), sha256: z.string() }))
      .openapi({ description: 'Exported objects read and found to match their checksum (source `exports`).' }),
  })
  .openapi('RestoreReport');
export type RestoreReport = ReportOf<typeof restoreReportSchema>;
