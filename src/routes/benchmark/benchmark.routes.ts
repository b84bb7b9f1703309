import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { problemResponses } from '../../http/problems.js';
import { BENCHMARK_LIMITS, REGRESSION, runsOf } from '../../operations/benchmark.js';
import {
  benchmarkParamsSchema,
  benchmarkReportSchema,
  PATTERN_CATALOGUE,
  patternNameSchema,
} from '../../reports/benchmark.js';
import { reportIdSchema } from '../../reports/schemas.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const benchmarkBodySchema = z
  .strictObject({
    patterns: z
      .array(patternNameSchema)
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names a pattern twice')
      .default(PATTERN_CATALOGUE.map((p) => p.name))
      .openapi({
        description: `Which patterns to run (default: all eight). Targets: ${PATTERN_CATALOGUE.map((p) => `${p.name} ${p.targetMs ?? 'none'}`).join(', ')} (ms, p95).`,
      }),
    iterations: z.number().int().min(1).max(1000).default(20).openapi({ description: 'Timed runs per pattern.' }),
    warmup: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(3)
      .openapi({ description: 'Untimed runs per pattern first (caches, plans).' }),
    params: benchmarkParamsSchema.default(benchmarkParamsSchema.parse({})),
    statementTimeoutMs: z.number().int().min(100).max(BENCHMARK_LIMITS.statementTimeoutMs).default(30_000).openapi({
      description:
        'Per statement (at most 60 s); a pattern that exceeds it is reported as failed and the others still run.',
    }),
    baselineReportId: reportIdSchema.optional().openapi({
      description: `An earlier benchmark report: patterns whose p50 is more than ${Math.round((REGRESSION.ratio - 1) * 100)}% and ${REGRESSION.minMs} ms worse are listed in \`regressions\`.`,
    }),
    notify: notifyField,
  })
  // Bounded load per request: every run of every pattern is a statement on production.
  .superRefine((body, ctx) => {
    const statements = runsOf(body) * body.patterns.length;
    if (statements > BENCHMARK_LIMITS.statements)
      ctx.addIssue({
        code: 'custom',
        path: ['iterations'],
        message: `asks for ${statements} statements ((warmup + 2 × iterations + 1) × patterns); at most ${BENCHMARK_LIMITS.statements} per request`,
      });
  })
  .openapi('BenchmarkRequest');

export const postBenchmark = createRoute({
  method: 'post',
  path: '/benchmark',
  operationId: 'benchmark',
  tags: ['Operations'],
  summary: "Time SARK's polymorphic query patterns: percentiles, plans, targets, regressions",
  description: [
    'Each pattern runs in its own read-only transaction with a statement timeout: `warmup` untimed runs, then',
    '`iterations` timed runs (the round trip, and the server execution time of each), then one `EXPLAIN',
    '(ANALYZE, BUFFERS)` walked as a tree. A pattern whose table is missing is skipped. Closing the request',
    'cancels the running query.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: benchmarkBodySchema } } },
  },
  responses: {
    200: {
      description: 'The benchmark report (also stored).',
      content: { 'application/json': { schema: benchmarkReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
    ...problemResponses(404, 499),
  },
});
