import { reportSchema, type ReportOf } from './schemas.js';
import { checkedOutcomeFields, checkSchema } from './validation.js';
import { z } from './zod.js';

export const V2_STATES = ['absent', 'adoptable', 'present', 'conflict'] as const;
export type V2State = (typeof V2_STATES)[number];

const tableSchema = z
  .object({
    table: z.string(),
    version: z.enum(['v1', 'v2']),
    exists: z.boolean(),
    rows: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Rows: exact or estimated, as `counted` says; null: the table is absent.' }),
    counted: z.enum(['exact', 'estimate', 'none']).openapi({
      description:
        '`exact`: count(*), run only where the estimate is under 1,000,000 rows; `estimate`: pg_class.reltuples (as of the last ANALYZE or VACUUM); `none`: absent.',
    }),
    bytes: z.number().int().nullable().openapi({ description: 'pg_total_relation_size: heap, indexes and TOAST.' }),
  })
  .openapi('PreflightTable');

const interval = z
  .object({ expected: z.number().nonnegative(), low: z.number().nonnegative(), high: z.number().nonnegative() })
  .openapi('EstimateInterval');

const tableGrowth = z.object({
  before: z.number().int().nonnegative(),
  added: z.number().int().nonnegative(),
  after: z.number().int().nonnegative(),
});

export const migrationEstimateSchema = z
  .object({
    method: z.string().openapi({ description: 'How the figures were found, in a sentence.' }),
    skipped: z.string().nullable().openapi({ description: 'Why no sample was taken (then the figures are null).' }),
    sample: z
      .object({
        servers: z.number().int().openapi({ description: 'Servers the sample copied (with their tools).' }),
        rowsCopied: z.number().int().openapi({ description: 'Resources and capabilities its statements inserted.' }),
        schemaMs: z
          .number()
          .nonnegative()
          .openapi({ description: 'Creating the v2 tables in the sample (0 when present).' }),
        analyzeMs: z.number().nonnegative().nullable().openapi({
          description:
            'ANALYZE of the sampled v2 tables; null where they existed before (ANALYZE would change their statistics for good).',
        }),
        subSamples: z.array(
          z.object({
            resources: z.number().int(),
            capabilities: z.number().int(),
            ms: z.number().nonnegative(),
          }),
        ),
        rolledBack: z.literal(true),
      })
      .nullable(),
    toCopy: z
      .object({
        resources: z.number().int(),
        capabilities: z.number().int(),
        counted: z.enum(['exact', 'estimate', 'dry-run']).openapi({
          description:
            '`exact`/`estimate`: the v1 row counts (v2 empty); `dry-run`: what a dry run would copy (v2 holds rows already).',
        }),
      })
      .nullable(),
    streams: z.number().int().openapi({ description: 'Batches a real migration runs at once on this driver.' }),
    durationMs: interval.nullable().openapi({
      description:
        "Schema phase, data phase and ANALYZE, extrapolated from the sample: the data phase at the sub-samples' mean rate on one stream (expected), at the fastest over `streams` streams (low), at the slowest on one stream with a 1.5× margin (high).",
    }),
    v2SizeBytes: z
      .object({ resources: tableGrowth, capabilities: tableGrowth, totalAfter: z.number().int().nonnegative() })
      .nullable()
      .openapi({ description: 'The v2 tables after the migration, from the growth the sample measured per row.' }),
    cost: z
      .object({
        computeCu: z.number().positive(),
        cuHourUsd: z.number().nonnegative(),
        storageGbMonthUsd: z.number().nonnegative(),
        pricesFrom: z.enum(['defaults', 'configuration', 'request']).openapi({
          description: 'Where the prices came from: the documented defaults, NEON_* configuration, or the request.',
        }),
        pricesAsOf: z.string().openapi({ description: 'The date of the default prices (docs/preflight.md).' }),
        computeHours: interval,
        computeUsd: interval,
        storageAddedGb: z.number().nonnegative(),
        storageUsdPerMonth: z.number().nonnegative(),
      })
      .nullable()
      .openapi({ description: 'Neon only: compute hours × CU × price per CU-hour, and the storage added per month.' }),
  })
  .openapi('MigrationEstimate');
export type MigrationEstimate = z.infer<typeof migrationEstimateSchema>;

export const preflightReportSchema = reportSchema
  .extend({
    kind: z.literal('preflight'),
    ...checkedOutcomeFields,
    serverVersion: z.string().nullable(),
    v1Shape: z.enum(['orm', 'migration']).nullable(),
    v2: z.enum(V2_STATES).openapi({
      description:
        '`absent`: /migrate creates the v2 tables; `adoptable`: they exist (made by SARK) and /migrate adopts them; `present`: /migrate made or adopted them already; `conflict`: some exist, some not.',
    }),
    tables: z.array(tableSchema),
    checks: z.array(checkSchema),
    estimate: migrationEstimateSchema,
  })
  .openapi('PreflightReport');
export type PreflightReport = ReportOf<typeof preflightReportSchema>;
