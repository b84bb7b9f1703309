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
    estimate: z.record(z.string(), z.unknown()).nullable().optional().openapi({
      description:
        "Where /preflight's estimate and its differences from what the rehearsal measured go; null until the two are wired together.",
    }),
  })
  .openapi('RehearsalReport');
export type RehearsalReport = ReportOf<typeof rehearsalReportSchema>;
