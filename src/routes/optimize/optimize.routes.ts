import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../lib/auth.js';
import { OPTIMIZE_ACTIONS } from '../../operations/optimize/index.js';
import { reportSchema } from '../../reports/schemas.js';
import { CANDIDATE_NAMES, CANDIDATES } from '../../sql/optimize.js';
import { acceptedResponse, bearerSecurity, operationProblems, preferHeaders } from '../shared.js';

export const optimizeBodySchema = z
  .strictObject({
    action: z.enum(OPTIMIZE_ACTIONS).default('plan').openapi({
      description: '`analyze`: the index inventory with flags. `plan` (default): candidate indexes with evidence; changes nothing (the dry run of apply). `apply` (scope `apply`): builds `indexes` concurrently and measures before and after.',
    }),
    indexes: z
      .array(z.enum(CANDIDATE_NAMES))
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names an index twice')
      .optional()
      .openapi({ description: `Candidates by name (required for apply; narrows a plan): ${CANDIDATE_NAMES.map((n) => `\`${n}\` (${CANDIDATES[n].origin})`).join(', ')}.` }),
    iterations: z.number().int().min(1).max(200).default(10).openapi({ description: 'apply: timed runs of each query before and after.' }),
    warmup: z.number().int().min(0).max(20).default(2),
    lockTimeoutMs: z.number().int().min(100).max(600_000).default(5_000).openapi({ description: 'apply: how long a build may wait for a lock before it gives up (and its INVALID index is dropped).' }),
    buildTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(1_800_000).openapi({ description: 'apply: statement timeout of each build.' }),
    verifyTargets: z.boolean().default(true).openapi({ description: 'apply: afterwards, time every pattern with a runbook target and explain from its plan any that still misses.' }),
  })
  .superRefine((body, ctx) => {
    if (body.action === 'apply' && !body.indexes) ctx.addIssue({ code: 'custom', path: ['indexes'], message: 'apply builds only the indexes it is given: name them (see the plan)' });
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
    duplicateOf: z.string().nullable().openapi({ description: 'An index whose keys this one is a prefix of (same method and predicate).' }),
    flags: z.array(z.enum(['invalid', 'unused', 'duplicate'])),
  })
  .openapi('IndexInventoryEntry');

const measuredSchema = z.object({ p50Ms: z.number().nullable(), p95Ms: z.number().nullable(), indexes: z.array(z.string()), error: z.string().optional() });

export const optimizationReportSchema = reportSchema
  .extend({
    kind: z.literal('optimization'),
    action: z.enum(OPTIMIZE_ACTIONS),
    indexes: z.array(indexSchema),
    tables: z.array(z.record(z.string(), z.unknown())).optional(),
    foreignKeysWithoutIndex: z.array(z.object({ table: z.string(), constraint: z.string(), references: z.string(), columns: z.array(z.string()) })).optional(),
    statsSince: z.string().nullable().optional(),
    hypopg: z.object({ installed: z.boolean(), available: z.boolean() }).optional(),
    recommendations: z.array(
      z.object({
        name: z.enum(CANDIDATE_NAMES),
        sql: z.string(),
        origin: z.enum(['seed', 'plan']),
        purpose: z.string(),
        patterns: z.array(z.string()).openapi({ description: 'Benchmark patterns and probe queries it serves.' }),
        evidence: z.array(z.string()),
        evaluation: z.record(z.string(), z.unknown()).openapi({ description: '`hypopg` (planner cost before and after per query), `unevaluated` (with the reason) or `exists`.' }),
        priority: z.enum(['high', 'medium', 'low', 'none', 'unknown']).openapi({ description: "From the planner's best saving on a query that uses the index: ≥90% high, ≥50% medium, ≥10% low; unknown when unevaluated." }),
        state: z.string(),
        writeOverhead: z.record(z.string(), z.unknown()),
      }),
    ),
    diagnoses: z.record(z.string(), z.unknown()).optional().openapi({ description: "Each pattern's plan: scans, and why no index can help where its shape says so." }),
    applied: z.array(
      z
        .looseObject({
          name: z.enum(CANDIDATE_NAMES),
          status: z.enum(['built', 'exists', 'failed', 'skipped']),
          patterns: z.array(z.object({ query: z.string(), before: measuredSchema, after: measuredSchema.optional(), usesIndex: z.boolean().optional(), verdict: z.string().optional() })),
        })
        .openapi({ description: 'Measured p50/p95 of each query the index serves, before and after the build.' }),
    ),
    targets: z.array(z.record(z.string(), z.unknown())).optional().openapi({ description: 'apply: every pattern with a runbook target after the builds, and whyNoIndex for those that miss it.' }),
  })
  .openapi('OptimizationReport');

export const postOptimize = createRoute({
  method: 'post',
  path: '/optimize',
  operationId: 'optimize',
  tags: ['Operations'],
  summary: 'Index health, recommendations proven by the planner and by measurement, concurrent builds',
  description:
    '`analyze` lists every index of the v2 tables with its size and scans, flagging unused, duplicate and INVALID ones, and foreign keys without an index. `plan` evaluates candidate indexes (SARK\'s four, and those the patterns\' plans call for) with HypoPG where it is installed, and changes nothing. `apply` holds the advisory lock and builds the named indexes with CREATE INDEX CONCURRENTLY outside a transaction, dropping the INVALID index a failed build leaves; then ANALYZE and before/after timings.',
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: { headers: preferHeaders, body: { required: false, content: { 'application/json': { schema: optimizeBodySchema } } } },
  responses: {
    200: { description: 'The optimization report (also stored).', content: { 'application/json': { schema: optimizationReportSchema } } },
    202: acceptedResponse,
    ...operationProblems,
  },
});
