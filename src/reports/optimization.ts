import { CANDIDATE_NAMES, CANDIDATES } from '../sql/optimize.js';
import { VIEW_NAMES, VIEWS } from '../sql/views.js';
import { reportSchema, type ReportOf } from './schemas.js';
import { z } from './zod.js';

export const OPTIMIZE_ACTIONS = ['analyze', 'plan', 'apply'] as const;
export type OptimizeAction = (typeof OPTIMIZE_ACTIONS)[number];

export const candidateNameSchema = z.enum(CANDIDATE_NAMES);
export const viewNameSchema = z.enum(VIEW_NAMES);
/** What a recommendation or an applied entry names: an index, or a materialized view. */
const remedyNameSchema = z.enum([...CANDIDATE_NAMES, ...VIEW_NAMES]);
const kindSchema = z.enum(['index', 'materialized view']).optional().openapi({
  description:
    '`materialized view`: where no index can serve a pattern (see `diagnoses[].whyNoIndex`). Absent in reports made before views: an index.',
});

/** Each index /optimize may build, and where it comes from (`seed`: SARK's four; `plan`: a pattern's plan). */
export const CANDIDATE_CATALOGUE = CANDIDATE_NAMES.map((name) => ({ name, origin: CANDIDATES[name].origin }));
/** Each materialized view /optimize may build, and the pattern it serves. */
export const VIEW_CATALOGUE = VIEW_NAMES.map((name) => ({ name, pattern: VIEWS[name].pattern }));

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

const prioritySchema = z.enum(['high', 'medium', 'low', 'none', 'unknown']);
const verdictSchema = z.enum(['faster', 'slower', 'no measurable change', 'not measured']);

/** Whether the workload could be read from pg_stat_statements, and if not, why. */
export const WORKLOAD_STATES = ['used', 'not-installed', 'not-loaded', 'unreadable'] as const;
export type WorkloadState = (typeof WORKLOAD_STATES)[number];

const servedStatementSchema = z
  .object({
    queryid: z.string(),
    query: z.string(),
    calls: z.number().int(),
    meanExecMs: z.number(),
    costBefore: z.number(),
    costAfter: z.number(),
    reduction: z.number().openapi({ description: '1 − after/before.' }),
  })
  .openapi('ServedStatement', {
    description:
      "A workload statement whose generic plan uses the hypothetical index: its calls and mean time (pg_stat_statements), and the planner's cost without and with the index.",
  });

const workloadSchema = z
  .object({
    source: z.literal('pg_stat_statements'),
    state: z.enum(WORKLOAD_STATES).openapi({
      description:
        '`used`: read; `not-installed`: CREATE EXTENSION pg_stat_statements (or not available on the server); `not-loaded`: installed, but the library is not in shared_preload_libraries; `unreadable`: the role may not read it, or it is outside the search_path.',
    }),
    reason: z.string().optional(),
    statements: z.array(
      z.object({
        queryid: z.string(),
        query: z.string().openapi({ description: 'As pg_stat_statements keeps it: constants replaced by $n.' }),
        calls: z.number().int(),
        totalExecMs: z.number(),
        meanExecMs: z.number(),
        rows: z.number().int(),
        parameters: z.number().int().openapi({ description: 'The highest $n: values it is planned without.' }),
        planCost: z.number().nullable().openapi({ description: "The generic plan's cost now; null when skipped." }),
        skipped: z.string().optional().openapi({ description: "Why it could not be planned (PostgreSQL's words)." }),
        servedBy: z.array(candidateNameSchema).openapi({
          description: 'Candidates whose index its plan uses: hypothetical (HypoPG) or, for one that exists, real.',
        }),
      }),
    ),
  })
  .openapi('Workload', {
    description:
      "plan: the database's heaviest SELECTs on the v2 tables by total execution time, from pg_stat_statements, each planned without its values (a generic plan).",
  });

const appliedStatementSchema = z
  .object({
    queryid: z.string(),
    query: z.string(),
    parameters: z.number().int(),
    calls: z.number().int(),
    meanExecMs: z.number(),
    costBefore: z.number().openapi({ description: "The generic plan's cost before the build." }),
    costAfter: z.number().openapi({ description: "The generic plan's cost with the real index." }),
    before: measuredSchema.optional().openapi({ description: 'A statement without parameters: timed before.' }),
    after: measuredSchema.optional(),
    verdict: verdictSchema.optional(),
    note: z.string(),
  })
  .openapi('AppliedStatement', {
    description:
      "A workload statement whose plan uses the built index. Without parameters it is timed before and after; with parameters it cannot run without its values: the real plan's cost before and after, and its measured effect in pg_stat_statements afterwards.",
  });

const choiceSchema = z.object({
  name: remedyNameSchema,
  priority: prioritySchema,
  reason: z.string().openapi({ description: 'Why it was chosen or passed over, from its evaluation.' }),
});

const selectionSchema = z
  .object({
    from: z.literal('plan'),
    chosen: z.array(choiceSchema).openapi({ description: 'The high- and medium-priority recommendations: built.' }),
    passedOver: z
      .array(choiceSchema)
      .openapi({ description: 'The other candidates: not built unless named in `indexes`.' }),
  })
  .openapi('OptimizeSelection', {
    description:
      'apply without `indexes`: the indexes taken from the current plan (its high- and medium-priority recommendations), and why.',
  });

const refreshSchema = z
  .object({
    statement: z.string(),
    estimatedRows: z.number().int().openapi({ description: "The rows the view would hold (the planner's estimate)." }),
    definitionCost: z
      .number()
      .openapi({ description: "The planner's cost of the defining query, which every refresh runs." }),
    measuredMs: z.number().int().nullable().openapi({
      description: 'Measured by apply (a REFRESH ... CONCURRENTLY right after the build); null in a plan.',
    }),
    note: z.string(),
  })
  .openapi('ViewRefresh', { description: 'What keeping a materialized view current costs.' });

const recommendationSchema = z
  .object({
    name: remedyNameSchema,
    kind: kindSchema,
    sql: z.string(),
    origin: z
      .enum(['seed', 'plan'])
      .openapi({ description: "`seed`: one of SARK's four; `plan`: called for by a pattern's plan." }),
    purpose: z.string(),
    patterns: z.array(z.string()).openapi({ description: 'Benchmark patterns and probe queries it serves.' }),
    evidence: z.array(z.string()),
    evaluation: z
      .object({
        method: z.enum(['hypopg', 'estimated', 'unevaluated', 'exists']).openapi({
          description:
            "`estimated`: a materialized view, which cannot be planned before it exists: the original's planner cost, and an upper bound of the view's (one random page per row its ordered index scan reads).",
        }),
        reason: z.string().optional(),
        probes: z.array(probeSchema).optional().openapi({
          description: "HypoPG: the planner's cost of each query without and with the hypothetical index.",
        }),
        estimatedSizeBytes: z.number().int().optional(),
      })
      .openapi('Evaluation'),
    priority: prioritySchema.openapi({
      description: [
        "From the planner's best saving on a query that uses the index (a pattern, a probe, or a workload statement): ≥90% high, ≥50% medium, ≥10% low;",
        'unknown when unevaluated.',
      ].join(' '),
    }),
    state: z.enum(['absent', 'exists', 'invalid']),
    writeOverhead: z.object({
      table: z.string(),
      existingIndexes: z.number().int(),
      writesSinceStatsReset: z.number().int(),
      estimatedSizeBytes: z.number().int().nullable(),
      note: z.string(),
    }),
    statements: z.array(servedStatementSchema).optional().openapi({
      description: 'plan, HypoPG: the workload statements (pg_stat_statements) whose plan uses the index.',
    }),
    refresh: refreshSchema.optional(),
    staleness: z
      .string()
      .optional()
      .openapi({ description: 'A materialized view: what its readers see between refreshes.' }),
  })
  .openapi('Recommendation');

const appliedSchema = z
  .object({
    name: remedyNameSchema,
    kind: kindSchema,
    sql: z.string(),
    status: z.enum(['built', 'exists', 'refreshed', 'failed', 'skipped']).openapi({
      description: '`refreshed`: a materialized view that existed, brought up to date (REFRESH ... CONCURRENTLY).',
    }),
    reason: z.string().optional(),
    error: z.string().optional().openapi({ description: "Why the build failed (PostgreSQL's message)." }),
    buildMs: z.number().int().optional(),
    refreshMs: z.number().int().optional().openapi({
      description: 'A materialized view: REFRESH MATERIALIZED VIEW CONCURRENTLY, measured after the build.',
    }),
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
        verdict: verdictSchema.optional(),
      }),
    ),
    statements: z.array(appliedStatementSchema).optional().openapi({
      description: 'apply: the workload statements (pg_stat_statements) whose plan uses the built index.',
    }),
    helped: z.boolean().optional(),
    conclusion: z.string().optional(),
  })
  .openapi('AppliedIndex', {
    description:
      'Measured p50/p95 of each query the index serves, before and after the build; for a materialized view, the pattern before and through the view after.',
  });

const whyNoIndexSchema = z.object({ reason: z.string(), remedy: z.string() }).nullable();

export const optimizationReportSchema = reportSchema
  .extend({
    kind: z.literal('optimization'),
    status: z.enum(['running', 'succeeded', 'failed']).openapi({ description: '`failed`: an index build failed.' }),
    summary: z.object({
      message: z.string(),
      unused: z.array(z.string()).optional().openapi({ description: 'analyze, plan: indexes never scanned.' }),
      duplicate: z.array(z.string()).optional(),
      invalid: z.array(z.string()).optional(),
      foreignKeysWithoutIndex: z.number().int().optional(),
      recommended: z
        .array(z.string())
        .optional()
        .openapi({ description: 'plan, and apply without `indexes`: high and medium priority candidates.' }),
      built: z.number().int().optional().openapi({ description: 'apply: indexes and materialized views built.' }),
      failed: z.number().int().optional(),
      invalidIndexes: z.number().int().optional(),
    }),
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
    workload: workloadSchema.optional(),
    diagnoses: z
      .record(
        z.string(),
        z.object({
          scans: z.array(z.string()),
          selectiveSequentialScans: z.array(z.string()),
          sorts: z.array(z.string()),
          whyNoIndex: whyNoIndexSchema,
          heapLookups: z.array(z.string()).optional().openapi({
            description:
              'Tables a nested loop reads one row at a time through an index, fetching each row from the table: what a covering index would answer from the index alone. Absent in reports made before it was read.',
          }),
          measuredMs: z.number().nullable().optional().openapi({
            description:
              "Patterns with a runbook target: one run's execution time in this plan (EXPLAIN ANALYZE, server side), compared with the target; null for the others. A candidate that serves a pattern over its target, and saves at least 10% of its planner cost, is at least medium priority.",
          }),
        }),
      )
      .optional()
      .openapi({ description: "plan: each pattern's plan, and why no index can help where its shape says so." }),
    applied: z.array(appliedSchema),
    selection: selectionSchema.optional(),
    targets: z
      .array(
        z.object({
          pattern: z.string(),
          targetMs: z.number(),
          p50Ms: z.number().nullable(),
          p95Ms: z.number().nullable(),
          withinTarget: z.boolean().nullable(),
          indexes: z.array(z.string()),
          via: z
            .string()
            .optional()
            .openapi({ description: 'The materialized view the pattern was timed through, as /benchmark does.' }),
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

export type OptimizationReport = ReportOf<typeof optimizationReportSchema>;
export type IndexEntry = z.infer<typeof indexSchema>;
export type IndexFlag = IndexEntry['flags'][number];
export type TableEntry = z.infer<typeof tableSchema>;
export type ForeignKeyEntry = NonNullable<OptimizationReport['foreignKeysWithoutIndex']>[number];
export type Recommendation = z.infer<typeof recommendationSchema>;
export type Evaluation = Recommendation['evaluation'];
export type ProbeEvaluation = NonNullable<Evaluation['probes']>[number];
export type Priority = Recommendation['priority'];
export type Selection = z.infer<typeof selectionSchema>;
export type Choice = Selection['chosen'][number];
export type Diagnosis = NonNullable<OptimizationReport['diagnoses']>[string];
export type Measured = z.infer<typeof measuredSchema>;
export type Applied = z.infer<typeof appliedSchema>;
export type AppliedQuery = Applied['patterns'][number];
export type Verdict = NonNullable<AppliedQuery['verdict']>;
export type ServedStatement = z.infer<typeof servedStatementSchema>;
export type WorkloadReport = z.infer<typeof workloadSchema>;
export type AppliedStatement = z.infer<typeof appliedStatementSchema>;
export type TargetCheck = NonNullable<OptimizationReport['targets']>[number];
