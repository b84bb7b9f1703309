import { migrationEstimateSchema } from './preflight.js';
import { reportIdSchema, reportSchema, type ReportOf } from './schemas.js';
import { z } from './zod.js';

/** The cutover, in order, as a rehearsal runs it on its copy. */
export const REHEARSAL_STEPS = [
  'migrate',
  'validate',
  'benchmark',
  'rollback-plan',
  'rollback',
  'validate-after-rollback',
] as const;
export type RehearsalStep = (typeof REHEARSAL_STEPS)[number];

const stepSchema = z
  .object({
    step: z.enum(REHEARSAL_STEPS),
    status: z.string().openapi({
      description:
        "The step's own report status (`succeeded`, `passed`, `planned`, ...); `failed` when it threw; `not-run` after a step that threw.",
    }),
    passed: z.boolean().openapi({ description: 'Whether the step did what a cutover needs of it.' }),
    reportId: reportIdSchema
      .nullable()
      .openapi({ description: "The step's full report, stored too: GET /reports/{id}. Null when it did not run." }),
    durationMs: z.number().nonnegative().nullable(),
    summary: z.record(z.string(), z.unknown()).nullable().openapi({ description: "The step's report summary." }),
    error: z
      .object({ kind: z.string(), detail: z.string() })
      .optional()
      .openapi({ description: 'Why the step stopped, when it threw.' }),
    report: reportSchema
      .optional()
      .openapi({ description: "The step's full report, as stored under reportId (a report of the step's kind)." }),
  })
  .openapi('RehearsalStep');

export const rehearsalReportSchema = reportSchema
  .extend({
    kind: z.literal('rehearsal'),
    status: z.enum(['passed', 'failed', 'running']),
    summary: z.object({
      message: z.string(),
      steps: z.number().int(),
      passed: z.number().int(),
      failedStep: z.enum(REHEARSAL_STEPS).nullable(),
    }),
    copy: z
      .object({
        method: z.enum(['template', 'pglite-clone', 'neon-branch']),
        name: z
          .string()
          .openapi({ description: 'The copy: a database name or a Neon branch name (prefix + report id).' }),
        kept: z.boolean(),
        dropped: z.boolean(),
        reach: z
          .string()
          .nullable()
          .openapi({ description: 'How to reach a kept copy, without credentials; null once dropped.' }),
        dropError: z.string().optional().openapi({ description: 'Why dropping the copy failed: drop it by its name.' }),
        note: z.string().optional(),
      })
      .openapi({ description: 'The throwaway copy the cutover ran on; the source database itself is never changed.' }),
    v1Restored: z
      .object({
        passed: z.boolean(),
        before: z.record(z.string(), z.string()),
        after: z.record(z.string(), z.string()),
      })
      .nullable()
      .openapi({
        description:
          "v1's rows on the copy (counts and an md5 of every row), before the migration and after the rollback: equal when the rollback gave v1 back exactly. Null when the rollback did not run.",
      }),
    steps: z.array(stepSchema),
    estimate: z
      .object({
        migration: migrationEstimateSchema.nullable().openapi({
          description:
            "/preflight's estimate of the migration (docs/preflight.md), taken on the copy before its migration; null when it could not be taken (`error`).",
        }),
        error: z.string().optional().openapi({ description: 'Why no estimate was taken.' }),
        measured: z
          .object({
            durationMs: z.number().nonnegative().openapi({ description: "The migrate step's duration." }),
            v2SizeBytes: z.number().int().nonnegative().nullable().openapi({
              description: 'resources and capabilities on the copy after its migration (pg_total_relation_size).',
            }),
          })
          .nullable()
          .openapi({ description: 'What the migration on the copy took; null when the migrate step failed.' }),
        differences: z
          .object({
            durationRatio: z.number().nullable().openapi({
              description: 'Measured duration ÷ the expected estimate (1: exact; above 1: slower than estimated).',
            }),
            withinInterval: z
              .boolean()
              .nullable()
              .openapi({ description: "Whether the measured duration lies within the estimate's low-high interval." }),
            sizeRatio: z.number().nullable().openapi({ description: "Measured v2 size ÷ the estimate's totalAfter." }),
          })
          .nullable(),
      })
      .nullable()
      .optional()
      .openapi({
        description:
          "/preflight's estimate of the migration, taken on the copy, beside what the copy's migration measured, and their differences: how far to trust /preflight on this database.",
      }),
  })
  .openapi('RehearsalReport');
export type RehearsalReport = ReportOf<typeof rehearsalReportSchema>;
