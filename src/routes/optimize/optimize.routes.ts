import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import {
  CANDIDATE_CATALOGUE,
  candidateNameSchema,
  VIEW_CATALOGUE,
  viewNameSchema,
  OPTIMIZE_ACTIONS,
  optimizationReportSchema,
} from '../../reports/optimization.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const optimizeBodySchema = z
  .strictObject({
    action: z
      .enum(OPTIMIZE_ACTIONS)
      .default('plan')
      .openapi({
        description: [
          '`analyze`: the index inventory with flags. `plan` (default): candidate indexes with evidence;',
          'changes nothing (the dry run of apply). `apply` (scope `apply`): builds `indexes` (or, without them, the',
          "plan's high- and medium-priority recommendations) concurrently and measures before and after.",
        ].join(' '),
      }),
    indexes: z
      .array(candidateNameSchema)
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names an index twice')
      .optional()
      .openapi({
        description: `Candidates by name: for apply, the indexes to build (left out, apply builds the current plan's high- and medium-priority recommendations and names them in \`selection\`); for plan, the candidates to evaluate: ${CANDIDATE_CATALOGUE.map((c) => `\`${c.name}\` (${c.origin})`).join(', ')}.`,
      }),
    views: z
      .array(viewNameSchema)
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names a view twice')
      .optional()
      .openapi({
        description: `Materialized views by name, for patterns no index can serve: for apply, the views to build (one transaction each: created with their data and indexes, or not at all) or, where one exists, to refresh concurrently, each timed; for plan, the views to evaluate. Naming \`indexes\` or \`views\` applies only what is named. ${VIEW_CATALOGUE.map((v) => `\`${v.name}\` (for ${v.pattern})`).join(', ')}.`,
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
    notify: notifyField,
  })
  .openapi('OptimizeRequest');

export const postOptimize = createRoute({
  method: 'post',
  path: '/optimize',
  operationId: 'optimize',
  tags: ['Operations'],
  summary: 'Index health, recommendations proven by the planner and by measurement, concurrent builds',
  description: [
    '`analyze` lists every index of the v2 tables with its size and scans, flagging unused, duplicate and',
    "INVALID ones, and foreign keys without an index. `plan` evaluates candidate indexes (SARK's four, and",
    "those the patterns' plans call for) with HypoPG where it is installed, and the materialized view a pattern",
    'needs where its plan shows no index can serve it (its cost estimated), and changes nothing. `apply`',
    'holds the advisory lock and builds the named indexes (none named: those the current plan rates high or',
    'medium, listed with why in `selection`) with CREATE INDEX CONCURRENTLY outside a',
    'transaction, dropping the INVALID index a failed build leaves; then ANALYZE and before/after timings.',
    'A materialized view is built in one transaction (rolled back whole on failure), its',
    'REFRESH ... CONCURRENTLY timed, and its pattern timed before and through it.',
  ].join(' '),
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
