import { reportSchema, type ReportOf } from './schemas.js';
import { z } from './zod.js';

export const VALIDATION_MODES = ['quick', 'full', 'schema', 'data', 'relationships'] as const;
export type ValidationMode = (typeof VALIDATION_MODES)[number];

export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const checkSchema = z
  .object({
    name: z.string().openapi({ example: 'data.servers_fidelity' }),
    severity: z.enum(SEVERITIES).openapi({ description: 'How much it matters when it fails.' }),
    passed: z.boolean(),
    skipped: z.boolean().optional().openapi({
      description: 'The check could not look (its tables are missing, or v1 is gone); severity is then info.',
    }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
    sample: z.array(z.string()).openapi({ description: 'Ids (or names) of offending rows, up to sampleSize.' }),
  })
  .openapi('Check');
export type CheckResult = z.infer<typeof checkSchema>;

/** What a report of checks (a validation, a preflight) says of them: its status, counts and CI's exit code. */
export const checkedOutcomeFields = {
  status: z.enum(['passed', 'failed', 'critical', 'running']),
  summary: z.object({
    message: z.string(),
    passed: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    exitCode: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  }),
  exitCode: z
    .union([z.literal(0), z.literal(1), z.literal(2)])
    .openapi({ description: '2: a critical check failed; 1: an error check failed; 0: otherwise.' }),
};

export const validationReportSchema = reportSchema
  .extend({
    kind: z.literal('validation'),
    ...checkedOutcomeFields,
    mode: z.enum(VALIDATION_MODES),
    v1Shape: z.enum(['orm', 'migration']).nullable(),
    snapshots: z.enum(['one', 'per-group']).optional().openapi({
      description:
        '`one`: every check read one read-only snapshot (a run in process, on Node). `per-group`: each group of checks (schema, data, relationships, business) read a snapshot of its own, as a step of a Workflow on Workers; a write between two groups can show in the later one only.',
    }),
    checks: z.array(checkSchema),
  })
  .openapi('ValidationReport');
export type ValidationReport = ReportOf<typeof validationReportSchema>;
