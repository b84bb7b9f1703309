import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { OPTIMIZE_ACTIONS } from '../../operations/optimize/index.js';
import { reportSchema } from '../../reports/schemas.js';
import { CANDIDATE_NAMES, CANDIDATES } from '../../sql/optimize.js';
import { acceptedResponse, bearerSecurity, operationProblems, preferHeaders } from '../shared.js';

export const optimizeBodySchema = z
  .strictObject({
    action: z.enum(OPTIMIZE_ACTIONS).default('plan').openapi({
      description:
        '`analyze`: the index inventory with flags. `plan` (default): candidate indexes with evidence; changes nothing (the dry run of apply). `apply` (scope `apply`): builds `indexes` concurrently and measures before and after.',
    }),
    indexes: z
      .array(z.enum(CANDIDATE_NAMES))
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names an index twice')
      .optional()
      .openapi({
        description: `Candidates by name (required for apply; narrows a plan): ${CANDIDATE_NAMES.map((n) => `\`${n}\` (${CANDIDATES[n].origin})`).join(', ')}.`,
      }),
    iterations: z
      .number()
      .int()
      .min(1)
      .max(200)
      .default(10)
      .openapi({ description: 'apply: timed runs of each query before and after.' }),
    warmup: z.number().int().min(0).max(20).default(2),
    lockTimeoutMs: z.number().int().min(100).max(600_000).default(5_000).openapi({
      description: 'apply: how long a build may wait for a lock before it gives up (and its INVALID index is dropped).',
    }),
    buildTimeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(3_600_000)
      .default(1_800_000)
      .openapi({ description: 'apply: statement timeout of each build.' }),
    verifyTargets: z.boolean().default(true).openapi({
      description:
        'apply: afterwards, time every pattern with a runbook target and explain from its plan any that still misses.',
    }),
  })
  .superRefine((body, ctx) => {
    if (body.action === 'apply' && !body.indexes)
      ctx.addIssue({
        code: 'custom',
        path: ['indexes'],
        message: 'apply builds only the indexes it is given: name them (see the plan)',
      });
  })
  .openapi('OptimizeRequest');

const indexSchema = z
  .object({
    table: z.string(),
    name: z.string(),
    method: z.string(),
    definition: z.string(),
    keys: z.array(z.string()),
    predicate: z.string().nullable(),
    sizeBytes: z.number().int(),
    scans: z.number().int().openapi({ description: 'Index scans since the statistics were reset (statsSince).' }),
    valid: z.boolean(),
    unique: z.boolean(),
    primary: z.boolean(),
    constraint: z.string().nullable(),
    duplicateOf: z
      .string()
      .nullable()
      .openapi({ description: 'An index whose keys this one is a prefix of (same method and predicate).' }),
    flags: z.array(z.enum(['invalid', 'unused', 'duplicate'])),
  })
  .openapi('IndexInventoryEntry');

const measuredSchema = z
  .object({
    p50Ms: z.number().nullable(),
    p95Ms: z.number().nullable(),
    indexes: z.array(z.string()),
    error: z.string().optional(),
  })
  .openapi('Measured', { description: 'Round-trip milliseconds of one query, and the indexes its plan used.' });

const tableSchema = z
  .object({
    table: z.string(),
    totalBytes: z.number().int(),
    tableBytes: z.number().int(),
    indexBytes: z.number().int(),
    liveRows: z.number().int(),
    estimatedRows: z.number().int().openapi({ description: "pg_class.reltuples: the planner's row count." }),
    seqScans: z.number().int(),
    indexScans: z.number().int(),
    writes: z
      .number()
      .int()
      .openapi({ description: 'Rows inserted, updated and deleted since the statistics were reset.' }),
    lastAnalyzed: z.string().nullable(),
    flags: z.array(z.literal('never analyzed')),
  })
  .openapi('TableStats');

const probeSchema = z.object({
  query: z.string(),
  costBefore: z.number(),
  costAfter: z.number(),
  reduction: z.number().openapi({ description: '1 − after/before.' }),
  usesIndex: z.boolean(),
});

const recommendationSchema = z
  .object({
    name: z.enum(CANDIDATE_NAMES),
    sql: z.string(),
    origin: z
      .enum(['seed', 'plan'])
      .openapi({ description: "`seed`: one of SARK's four; `plan`: called for by a pattern's plan." }),
    purpose: z.string(),
    patterns: z.array(z.string()).openapi({ description: 'Benchmark patterns and probe queries it serves.' }),
    evidence: z.array(z.string()),
    evaluation: z
      .object({
        method: z.enum(['hypopg', 'unevaluated', 'exists']),
        reason: z.string().optional(),
        probes: z.array(probeSchema).optional().openapi({
          description: "HypoPG: the planner's cost of each query without and with the hypothetical index.",
        }),
        estimatedSizeBytes: z.number().int().optional(),
      })
      .openapi('Evaluation'),
    priority: z.enum(['high', 'medium', 'low', 'none', 'unknown']).openapi({
      description:
        "From the planner's best saving on a query that uses the index: ≥90% high, ≥50% medium, ≥10% low; unknown when unevaluated.",
    }),
    state: z.enum(['absent', 'exists', 'invalid']),
    writeOverhead: z.object({
      table: z.string(),
      existingIndexes: z.number().int(),
      writesSinceStatsReset: z.number().int(),
      estimatedSizeBytes: z.number().int().nullable(),
      note: z.string(),
    }),
  })
  .openapi('Recommendation');

const appliedSchema = z
  .object({
    name: z.enum(CANDIDATE_NAMES),
    sql: z.string(),
    status: z.enum(['built', 'exists', 'failed', 'skipped']),
    reason: z.string().optional(),
    error: z.string().optional().openapi({ description: "Why the build failed (PostgreSQL's message)." }),
    buildMs: z.number().int().optional(),
    invalidLeft: z.string().optional().openapi({
      description: 'Only if a failed build left an INVALID index that could not be dropped: the statement to run.',
    }),
    notes: z.array(z.string()),
    patterns: z.array(
      z.object({
        query: z.string(),
        before: measuredSchema,
        after: measuredSchema.optional(),
        usesIndex: z.boolean().optional(),
        verdict: z.enum(['faster', 'slower', 'no measurable change', 'not measured']).optional(),
      }),
    ),
    helped: z.boolean().optional(),
    conclusion: z.string().optional(),
  })
  .openapi('AppliedIndex', {
    description: 'Measured p50/p95 of each query the index serves, before and after the build.',
  });

const whyNoIndexSchema = z.object({ reason: z.string(), remedy: z.string() }).nullable();

export const optimizationReportSchema = reportSchema
  .extend({
    kind: z.literal('optimization'),
    action: z.enum(OPTIMIZE_ACTIONS),
    indexes: z.array(indexSchema),
    tables: z.array(tableSchema).optional(),
    foreignKeysWithoutIndex: z
      .array(
        z.object({ table: z.string(), constraint: z.string(), references: z.string(), columns: z.array(z.string()) }),
      )
      .optional(),
    statsSince: z.string().nullable().optional(),
    hypopg: z.object({ installed: z.boolean(), available: z.boolean() }).optional(),
    recommendations: z.array(recommendationSchema),
    diagnoses: z
      .record(
        z.string(),
        z.object({
          scans: z.array(z.string()),
          selectiveSequentialScans: z.array(z.string()),
          sorts: z.array(z.string()),
          whyNoIndex: whyNoIndexSchema,
        }),
      )
      .optional()
      .openapi({ description: "plan: each pattern's plan, and why no index can help where its shape says so." }),
    applied: z.array(appliedSchema),
    targets: z
      .array(
        z.object({
          pattern: z.string(),
          targetMs: z.number(),
          p50Ms: z.number().nullable(),
          p95Ms: z.number().nullable(),
          withinTarget: z.boolean().nullable(),
          indexes: z.array(z.string()),
          whyNoIndex: whyNoIndexSchema.optional(),
        }),
      )
      .optional()
      .openapi({
        description:
          'apply: every pattern with a runbook target after the builds, and whyNoIndex for those that miss it.',
      }),
    cleanedUp: z
      .array(z.string())
      .optional()
      .openapi({ description: 'apply: catalogue indexes an interrupted earlier build left INVALID, dropped first.' }),
  })
  .openapi('OptimizationReport');

export const postOptimize = createRoute({
  method: 'post',
  path: '/optimize',
  operationId: 'optimize',
  tags: ['Operations'],
  summary: 'Index health, recommendations proven by the planner and by measurement, concurrent builds',
  description:
    "`analyze` lists every index of the v2 tables with its size and scans, flagging unused, duplicate and INVALID ones, and foreign keys without an index. `plan` evaluates candidate indexes (SARK's four, and those the patterns' plans call for) with HypoPG where it is installed, and changes nothing. `apply` holds the advisory lock and builds the named indexes with CREATE INDEX CONCURRENTLY outside a transaction, dropping the INVALID index a failed build leaves; then ANALYZE and before/after timings.",
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: optimizeBodySchema } } },
  },
  responses: {
    200: {
      description: 'The optimization report (also stored).',
      content: { 'application/json': { schema: optimizationReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
