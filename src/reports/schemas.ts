import { UUID_V7 } from './ids.js';
import { z } from './zod.js';

export const REPORT_KINDS = [
  'migration',
  'validation',
  'benchmark',
  'optimization',
  'rollback',
  'rehearsal',
  'preflight',
  'restore',
] as const;
export const reportKindSchema = z.enum(REPORT_KINDS).openapi({ description: 'What operation made the report.' });
export type ReportKind = z.infer<typeof reportKindSchema>;

export const reportIdSchema = z.string().regex(UUID_V7, 'must be a report id (a lowercase UUIDv7)').openapi({
  description: 'Report id: a UUIDv7, so ids sort by creation time.',
  example: '019ab8f2-6c1e-7d3a-9f21-4c8e2b7a1d05',
});

/** Fields every report has; each kind adds its own beside them. */
export const reportSchema = z
  .looseObject({
    id: reportIdSchema,
    kind: reportKindSchema,
    status: z.string().openapi({
      description: [
        '`running` while an operation goes on; then the outcome of its kind (e.g. `passed`, `failed`,',
        '`critical`, `succeeded`), `cancelled` when it was cancelled (POST /reports/{id}/cancel), or',
        '`abandoned` when the process running it stopped (its lease expired; a new run finishes the job).',
      ].join(' '),
    }),
    createdAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().nullable(),
    durationMs: z.number().nonnegative().nullable(),
    actor: z.string().openapi({ description: 'Name of the API token that asked for the operation.' }),
    request: z.record(z.string(), z.unknown()).openapi({ description: 'The validated request body.' }),
    summary: z.record(z.string(), z.unknown()).openapi({ description: 'The headline figures of the outcome.' }),
    progress: z
      .object({
        done: z.number().int(),
        total: z.number().int().nullable(),
        updatedAt: z.iso.datetime(),
        stepsPerSecond: z
          .number()
          .nonnegative()
          .optional()
          .openapi({ description: 'Steps done per second since the first step began.' }),
        etaSeconds: z
          .number()
          .int()
          .nonnegative()
          .optional()
          .openapi({ description: 'Seconds left at that pace, where the total is known.' }),
      })
      .optional()
      .openapi({
        description: 'Steps done of total (batches, checks, ...); updatedAt shows a running report is alive.',
      }),
    takenOverFrom: reportIdSchema.optional().openapi({
      description:
        "The run whose lease this run took over: that run stopped renewing it (its process died) and it expired. That run's report says what it did.",
    }),
    error: z
      .object({ status: z.number().int(), title: z.string(), detail: z.string() })
      .optional()
      .openapi({ description: 'Why a `failed` operation stopped; the fields beside it show how far it got.' }),
    notifications: z
      .array(
        z.object({
          channel: z.enum(['slack', 'webhook']).openapi({
            description:
              '`slack`: the response_url of a Slack command or button; `webhook`: the `notify` URL (or NOTIFY_URL), signed.',
          }),
          host: z.string().openapi({ description: 'Where it went (the host only: the URL itself is a credential).' }),
          delivered: z.boolean(),
          attempts: z.array(
            z.object({
              at: z.iso.datetime(),
              status: z
                .number()
                .int()
                .nullable()
                .openapi({ description: "The receiver's status; null: no answer (timeout, refused)." }),
              ms: z.number().int(),
              error: z.string().optional(),
            }),
          ),
        }),
      )
      .optional()
      .openapi({
        description:
          'A run started from Slack: how its result was posted, each attempt (5xx and timeouts are retried).',
      }),
  })
  .openapi('Report');
export type Report = z.infer<typeof reportSchema>;

export const reportSummarySchema = reportSchema
  .pick({ id: true, kind: true, status: true, createdAt: true, finishedAt: true, actor: true })
  .strict()
  .openapi('ReportSummary');
export type ReportSummary = z.infer<typeof reportSummarySchema>;

export const reportListSchema = z
  .object({
    items: z.array(reportSummarySchema).openapi({ description: 'Newest first.' }),
    nextCursor: reportIdSchema
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
  })
  .openapi('ReportList');
export type ReportList = z.infer<typeof reportListSchema>;

/** A report type as an operation builds it: the schema's fields, and no others. */
export type ReportOf<S extends z.ZodType> = KnownKeys<z.infer<S>>;
type KnownKeys<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** The fields the runner fills in (src/operations/runner.ts); an operation returns the rest. */
export type RunnerField =
  | 'id'
  | 'kind'
  | 'createdAt'
  | 'finishedAt'
  | 'durationMs'
  | 'actor'
  | 'request'
  | 'progress'
  | 'takenOverFrom'
  | 'error';
export type Outcome<R> = Omit<R, RunnerField>;
