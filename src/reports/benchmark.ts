import { BENCHMARK_DEFAULTS, PATTERN_NAMES, PATTERNS } from '../sql/benchmark.js';
import { reportIdSchema, reportSchema, type ReportOf } from './schemas.js';
import { storableJsonObject, text } from './text.js';
import { z } from './zod.js';

export const patternNameSchema = z.enum(PATTERN_NAMES);

/** Each pattern with the runbook's target latency (p95), null where it sets none. */
export const PATTERN_CATALOGUE = PATTERN_NAMES.map((name) => ({ name, targetMs: PATTERNS[name].targetMs }));

const d = BENCHMARK_DEFAULTS;

export const benchmarkParamsSchema = z
  .strictObject({
    protocol: text(50)
      .default(d.protocol)
      .openapi({ description: 'list_resources_by_protocol, list_capabilities_with_resources.' }),
    metadataFilter: storableJsonObject()
      .default(d.metadataFilter)
      .openapi({ description: 'search_resources_by_metadata: a JSON object the metadata must contain (`@>`).' }),
    schemaKey: text(255)
      .default(d.schemaKey)
      .openapi({ description: 'search_capabilities_by_input_schema: a top-level key of input_schema (`?`).' }),
    sensitivityLevels: z
      .array(text(20))
      .min(1)
      .max(10)
      .default(d.sensitivityLevels)
      .openapi({ description: 'high_sensitivity_capabilities.' }),
    protocols: z
      .array(text(50))
      .min(1)
      .max(20)
      .default(d.protocols)
      .openapi({ description: 'cross_protocol_capabilities.' }),
    excludedSensitivity: text(20)
      .default(d.excludedSensitivity)
      .openapi({ description: 'cross_protocol_capabilities: the level left out.' }),
    costWindowHours: z
      .number()
      .int()
      .min(1)
      .max(8760)
      .default(d.costWindowHours)
      .openapi({ description: 'resource_cost_analysis: how far back cost_tracking is read.' }),
  })
  .openapi('BenchmarkParams', { description: 'Bound as values of the fixed statements, never spliced into them.' });

const nullableMs = z.number().nonnegative().nullable();
const distributionSchema = z
  .object({
    min: z.number(),
    mean: z.number(),
    p50: z.number(),
    p95: z.number(),
    p99: z.number(),
    max: z.number(),
    stddev: z.number(),
  })
  .openapi('Distribution', { description: 'Milliseconds over the timed runs; percentiles by linear interpolation.' });

const planSchema = z
  .object({
    totalCost: z.number(),
    scans: z
      .array(
        z.object({
          node: z.string(),
          relation: z.string().nullable(),
          index: z.string().nullable(),
          estimatedRows: z.number(),
          filtered: z.boolean(),
        }),
      )
      .openapi({ description: 'Every scan node in the plan tree, with the rows the planner expects it to keep.' }),
    indexes: z.array(z.string()),
    sequentialScans: z.array(z.string()).openapi({ description: 'Tables read by a sequential scan.' }),
    usesIndex: z.boolean(),
    sorts: z
      .array(z.object({ node: z.string(), keys: z.array(z.string()) }))
      .openapi({ description: 'Sort nodes: rows put in order after they were read.' }),
    buffers: z
      .object({ hit: z.number().int(), read: z.number().int() })
      .openapi({ description: 'Shared buffers of the analysed run.' }),
    worstMisestimate: z
      .object({
        node: z.string(),
        relation: z.string().nullable(),
        estimatedRows: z.number(),
        actualRows: z.number(),
        factor: z.number(),
      })
      .nullable()
      .openapi({
        description:
          'The node whose row estimate is furthest off, either way (nodes a Limit stopped early are left out).',
      }),
    planningMs: z.number().nullable(),
    executionMs: z.number().nullable(),
  })
  .openapi('PlanSummary', { description: 'One EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), walked as a tree.' });

export const patternResultSchema = z
  .object({
    pattern: patternNameSchema,
    description: z.string(),
    sql: z.string().openapi({ description: 'The statement, with $n for the bound params.' }),
    targetMs: z.number().nullable().openapi({ description: "The runbook's target latency (p95), if it sets one." }),
    skipped: z.boolean(),
    reason: z.string().optional().openapi({ description: 'Why it was skipped (a missing table).' }),
    error: z.string().optional().openapi({ description: 'Why it failed (a statement timeout).' }),
    iterations: z.number().int(),
    rows: z.number().int().nullable(),
    minMs: nullableMs,
    meanMs: nullableMs,
    p50Ms: nullableMs,
    p95Ms: nullableMs,
    p99Ms: nullableMs,
    maxMs: nullableMs,
    stddevMs: nullableMs,
    withinTarget: z
      .boolean()
      .nullable()
      .openapi({ description: 'p95 of the round trip ≤ targetMs; null without a target.' }),
    usesIndex: z.boolean().nullable(),
    indexes: z.array(z.string()).openapi({ description: 'Every index the plan uses, anywhere in the tree.' }),
    roundTripMs: distributionSchema.nullable().openapi({
      description: [
        'Each run as a client sees it, timed as pgbench times it: from sending the statement to the arrival',
        'of ReadyForQuery, its rows counted. Through pg without TLS the rows are not decoded (as pgbench);',
        'through the Neon driver, or pg over TLS, the driver decodes each field first (about 1 µs a row); on',
        'PGlite, around its query(). The top-level *Ms fields.',
      ].join(' '),
    }),
    serverMs: distributionSchema.nullable().openapi({
      description: [
        "The server's Execution Time of the statement, from as many EXPLAIN (ANALYZE, TIMING OFF) runs right",
        'after the timed ones.',
      ].join(' '),
    }),
    plan: planSchema.nullable(),
    via: z
      .string()
      .optional()
      .openapi({
        description: [
          'The materialized view of /optimize the pattern was timed through (its statement is `sql`), present',
          'when the view exists and returned the same rows as the pattern itself in this run; the pattern',
          'itself is timed too, in `original`, so nothing is hidden.',
        ].join(' '),
      }),
    original: z
      .object({
        sql: z.string(),
        rows: z.number().int().nullable(),
        p50Ms: nullableMs,
        p95Ms: nullableMs,
        p99Ms: nullableMs,
        withinTarget: z.boolean().nullable(),
        indexes: z.array(z.string()),
        error: z.string().optional(),
      })
      .optional()
      .openapi({ description: "With `via`: the pattern's own statement, timed in the same run." }),
    viaSkipped: z.object({ view: z.string(), reason: z.string() }).optional().openapi({
      description:
        "A view exists for the pattern but was not timed through: it returned other rows than the pattern (stale since its last refresh), or is not populated. The figures are then the pattern's own.",
    }),
  })
  .openapi('PatternResult');

export const benchmarkReportSchema = reportSchema
  .extend({
    kind: z.literal('benchmark'),
    summary: z.object({
      message: z.string(),
      measured: z.number().int(),
      skipped: z.number().int(),
      failed: z.number().int(),
      withinTarget: z.number().int().openapi({ description: 'Patterns with a target whose p95 met it.' }),
      missedTarget: z.array(patternNameSchema),
      regressions: z.number().int(),
    }),
    status: z.enum(['succeeded', 'regressed', 'failed', 'running']).openapi({
      description: '`regressed`: a pattern is slower than the baseline beyond the noise; `failed`: a pattern failed.',
    }),
    iterations: z.number().int(),
    warmup: z.number().int(),
    params: benchmarkParamsSchema,
    results: z.array(patternResultSchema),
    baseline: z
      .object({
        reportId: reportIdSchema,
        createdAt: z.string(),
        threshold: z.object({ ratio: z.number(), minMs: z.number() }),
      })
      .nullable(),
    regressions: z.array(
      z.object({
        pattern: patternNameSchema,
        baselineP50Ms: z.number(),
        p50Ms: z.number(),
        ratio: z.number(),
        deltaMs: z.number(),
      }),
    ),
    incomparable: z
      .array(z.object({ pattern: patternNameSchema, reason: z.string() }))
      .openapi({ description: 'Patterns the baseline measured with other SQL or other bound values: not compared.' }),
  })
  .openapi('BenchmarkReport');

export type BenchmarkReport = ReportOf<typeof benchmarkReportSchema>;
export type PatternResult = z.infer<typeof patternResultSchema>;
export type Regression = BenchmarkReport['regressions'][number];
export type Incomparable = BenchmarkReport['incomparable'][number];
