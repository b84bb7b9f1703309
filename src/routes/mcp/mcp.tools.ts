import { z } from '@hono/zod-openapi';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { benchmarkBodySchema } from '../benchmark/benchmark.routes.js';
import { migrateBodySchema } from '../migrate/migrate.routes.js';
import { optimizeBodySchema } from '../optimize/optimize.routes.js';
import { preflightBodySchema } from '../preflight/preflight.routes.js';
import { rehearseBodySchema } from '../rehearse/rehearse.routes.js';
import { restoreBodySchema } from '../restore/restore.routes.js';
import { cancelReport, getReport, listReports } from '../reports/reports.routes.js';
import { rollbackBodySchema } from '../rollback/rollback.routes.js';
import { validateBodySchema } from '../validate/validate.routes.js';

/**
 * The MCP tools, each one of the API's own requests: its input schema is the endpoint's (a plan
 * tool's with `dryRun` fixed), and `request` says which route it calls with what. The route
 * decides everything else (scopes, validation, 409s), so the door holds no rule of its own.
 */

/** A request to one of the service's routes, made in-process with the caller's token. */
export interface RouteCall {
  method: 'GET' | 'POST';
  path: string;
  body?: Record<string, unknown>;
  /** Sent as `Prefer: respond-async`: the answer is the running report at once. */
  respondAsync?: boolean;
}

export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  inputSchema: z.ZodObject;
  annotations: ToolAnnotations;
  request(args: Record<string, unknown>): RouteCall;
}

const respondAsync = z.boolean().default(false).openapi({
  description:
    'Answer at once with the running report (its id and progress) instead of waiting for the end; follow it with get_report.',
});

/** Everything read-only: the database is left as it was (a report is stored, as for every run). */
const reads: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };

/** A body for the route: the tool's arguments without the door's own field. */
function bodyOf({ respondAsync: _async, ...body }: Record<string, unknown>): Record<string, unknown> {
  return body;
}

const post = (path: string, args: Record<string, unknown>, fixed: Record<string, unknown> = {}): RouteCall => ({
  method: 'POST',
  path,
  body: { ...bodyOf(args), ...fixed },
  respondAsync: args.respondAsync === true,
});

const { dryRun: _migrateDryRun, planId: _migratePlanId, ...migratePlanShape } = migrateBodySchema.shape;
const { dryRun: _rollbackDryRun, planId: _rollbackPlanId, ...rollbackPlanShape } = rollbackBodySchema.shape;
const { dryRun: _restoreDryRun, ...restorePlanShape } = restoreBodySchema.shape;
const optimizeShape = optimizeBodySchema.shape;
const rollbackShape = rollbackBodySchema.shape;

const APPLY_OPERATIONS = ['migrate', 'rollback', 'optimize', 'restore'] as const;

/** apply: the run a plan tool planned; its fields are those of the three routes (each refuses the others'). */
const applySchema = z
  .strictObject({
    operation: z.enum(APPLY_OPERATIONS).openapi({ description: 'Which plan to carry out.' }),
    planId: migrateBodySchema.shape.planId.unwrap().optional().openapi({
      description:
        'migrate and rollback: the `planId` of the migrate_plan or rollback_plan report; refused (stale plan) unless the database still matches it.',
    }),
    indexes: optimizeShape.indexes.openapi({
      description:
        'optimize: the recommendations of optimize_plan to build, by name (left out: what POST /optimize apply builds without them).',
    }),
    views: optimizeShape.views.openapi({
      description:
        'optimize: the materialized views of optimize_plan to build (or, where one exists, refresh), by name.',
    }),
    rollbackReportId: restorePlanShape.rollbackReportId.optional().openapi({
      description:
        'restore: the rollback run whose archived rows go back, as restore_plan checked it; refused (409) when a row would collide.',
    }),
    serverIds: migratePlanShape.serverIds.openapi({ description: 'migrate: the serverIds the plan was made with.' }),
    resourceIds: rollbackShape.resourceIds.openapi({
      description: 'rollback: the resourceIds the plan was made with.',
    }),
    backportChanges: rollbackShape.backportChanges
      .unwrap()
      .optional()
      .openapi({ description: 'rollback: as the plan was made.' }),
    batchSize: migratePlanShape.batchSize,
    parallelism: migratePlanShape.parallelism.unwrap().optional(),
    iterations: optimizeShape.iterations.unwrap().optional(),
    warmup: optimizeShape.warmup.unwrap().optional(),
    lockTimeoutMs: optimizeShape.lockTimeoutMs.unwrap().optional(),
    buildTimeoutMs: optimizeShape.buildTimeoutMs.unwrap().optional(),
    verifyTargets: optimizeShape.verifyTargets.unwrap().optional(),
    notify: optimizeShape.notify,
    respondAsync,
  })
  .superRefine((args, ctx) => {
    if (args.operation === 'restore') {
      if (args.rollbackReportId === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['rollbackReportId'],
          message: 'is required to restore: check it with restore_plan, review it, and pass the same rollbackReportId',
        });
      return;
    }
    if (args.operation !== 'optimize' && args.planId === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['planId'],
        message: `is required to ${args.operation}: make a plan with ${args.operation}_plan, review it, and pass its planId`,
      });
  });

function applyRequest({ operation, ...args }: Record<string, unknown>): RouteCall {
  if (operation === 'optimize') return post('/optimize', args, { action: 'apply' });
  if (operation === 'restore') return post('/restore', args, { dryRun: false });
  return post(operation === 'migrate' ? '/migrate' : '/rollback', args, { dryRun: false });
}

const idOf = (args: Record<string, unknown>) => encodeURIComponent(String(args.id));

export const TOOLS: readonly ToolSpec[] = [
  {
    name: 'validate',
    title: 'Validate the migration',
    description:
      'Checks the v2 schema, every migrated row field by field, relationships and business rules (POST /validate). The report has status passed, failed or critical, an exitCode (0, 1, 2) and each check with its severity and offending ids. Scope run.',
    inputSchema: validateBodySchema.extend({ respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/validate', args),
  },
  {
    name: 'preflight',
    title: 'Check the database is ready to migrate',
    description:
      "The runbook's pre-migration checklist (POST /preflight): server and extensions, the v1 shape, v2's state, table sizes, long transactions and locks, replication slots, dead tuples, connection slots, timeouts; with an estimate of the migration's duration, the v2 size and, on Neon, its cost, from a sample copied in a transaction that is rolled back. The report has status passed, failed or critical and an exitCode (0, 1, 2). Scope run.",
    inputSchema: preflightBodySchema.extend({ respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/preflight', args),
  },
  {
    name: 'benchmark',
    title: "Benchmark SARK's query patterns",
    description:
      "Times SARK's polymorphic query patterns with percentiles, plans and targets, optionally against a baseline report (POST /benchmark). Puts load on the database for the duration. Scope run.",
    inputSchema: benchmarkBodySchema.extend({ respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/benchmark', args),
  },
  {
    name: 'optimize_plan',
    title: 'Plan indexes',
    description:
      '`plan` (default): candidate indexes with evidence from the planner; `analyze`: the index inventory with flags (POST /optimize). Changes nothing; build recommendations with apply (operation optimize). Scope run.',
    inputSchema: z.strictObject({
      action: z.enum(['analyze', 'plan']).default('plan'),
      indexes: optimizeShape.indexes.openapi({ description: 'Narrow the plan to these candidates.' }),
      views: optimizeShape.views.openapi({ description: 'Narrow the plan to these materialized views.' }),
      respondAsync,
    }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/optimize', args),
  },
  {
    name: 'migrate_plan',
    title: 'Plan the migration (dry run)',
    description:
      'A dry run of POST /migrate: what would be copied, already present and skipped, with the planId that apply (operation migrate) needs. Changes nothing. Scope run.',
    inputSchema: z.strictObject({ ...migratePlanShape, respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/migrate', args, { dryRun: true }),
  },
  {
    name: 'rollback_plan',
    title: 'Plan a rollback (dry run)',
    description:
      'A dry run of POST /rollback: what would be removed, rows born or changed in v2, with the planId that apply (operation rollback) needs. Changes nothing. Scope run.',
    inputSchema: z.strictObject({ ...rollbackPlanShape, respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/rollback', args, { dryRun: true }),
  },
  {
    name: 'restore_plan',
    title: "Check a restore of a rollback's rows (dry run)",
    description:
      "A dry run of POST /restore: what a rollback run's archived rows would put back into v2, from the archive or its exported objects, and which of them collide with rows v2 holds. Changes nothing; apply (operation restore, the same rollbackReportId) restores. Scope apply, since it reads the archived rows.",
    inputSchema: z.strictObject({ ...restorePlanShape, respondAsync }),
    annotations: { ...reads, idempotentHint: true },
    request: (args) => post('/restore', args, { dryRun: true }),
  },
  {
    name: 'rehearse',
    title: 'Rehearse the cutover on a throwaway copy',
    description:
      'POST /rehearse: copies the database (TEMPLATE, a PGlite clone or a Neon branch), runs migrate, validate, benchmark, a rollback on its plan and validate again on the copy, and drops it (keep: true keeps it). The database itself is left as it was. One report with each step. Scope apply.',
    inputSchema: rehearseBodySchema.extend({ respondAsync }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    request: (args) => post('/rehearse', args),
  },
  {
    name: 'apply',
    title: 'Apply a plan (changes the database)',
    description:
      'Carries out a reviewed plan: migrate or rollback with the planId of migrate_plan or rollback_plan (refused when the database changed since), optimize by building the named indexes of optimize_plan, or restore with the rollbackReportId restore_plan checked (refused when a row would collide). Changes the database; holds its lease (one changing run at a time). Scope apply.',
    inputSchema: applySchema,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    request: applyRequest,
  },
  {
    name: 'get_report',
    title: 'Read a report',
    description:
      'A stored report by id (GET /reports/{id}): a finished run as it answered, or a running one with its progress. Scope read.',
    inputSchema: getReport.request.params,
    annotations: { ...reads, idempotentHint: true },
    request: (args) => ({ method: 'GET', path: `/reports/${idOf(args)}` }),
  },
  {
    name: 'list_reports',
    title: 'List reports',
    description: 'Stored reports, newest first, by kind, a page at a time (GET /reports). Scope read.',
    inputSchema: listReports.request.query,
    annotations: { ...reads, idempotentHint: true },
    request: (args) => {
      const query = new URLSearchParams(
        Object.entries(args)
          .filter(([, value]) => value !== undefined)
          .map(([key, value]) => [key, String(value)]),
      );
      return { method: 'GET', path: `/reports?${query}` };
    },
  },
  {
    name: 'cancel',
    title: 'Cancel a run',
    description:
      'Asks a running operation to stop at its next step boundary (POST /reports/{id}/cancel); what committed stays. Scope run, and apply for a changing run.',
    inputSchema: cancelReport.request.params,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    request: (args) => ({ method: 'POST', path: `/reports/${idOf(args)}/cancel` }),
  },
];
