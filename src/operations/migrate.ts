import type { Database, Queryable } from '../adapters/db/types.js';
import { applyMigrations, planMigrations, V2_MIGRATIONS, type MigrationOutcome } from '../db/migrate.js';
import { mappingFor, type Mapping } from '../mapping/mapping.js';
import { detectV1Shape, type V1Shape } from '../mapping/shape.js';
import type { MigrationReport, SkippedRows, TableCounts } from '../reports/migration.js';
import type { Outcome } from '../reports/schemas.js';
import { ServiceError } from '../errors.js';
import { analyzeSql } from '../sql/catalog.js';
import { existingTables } from '../sql/introspection.js';
import {
  copyBatchSql,
  fingerprintSql,
  nextBatchSql,
  planCountsSql,
  skippedRowsSql,
  unknownServerIdsSql,
  type PlanCounts,
  type Subset,
} from '../sql/migrate.js';
import { execute, queryOne, queryRows } from '../sql/sql.js';
import { BATCH_LIMITS, batchStep, inStreams, oneAtATime, streamsFor, withRetry } from './batches.js';
import { withLease, type Lease } from './lease.js';
import { onceInRun } from './runs.js';
import { BatchSizer, type SizingPolicy } from './sizing.js';
import type { OperationContext } from './runner.js';
import { count } from './text.js';
import { SNAPSHOT_MAX_MS } from './snapshot.js';

export interface MigrateInput {
  dryRun: boolean;
  /** Servers per batch; left out, chosen from the measured time of the batches (MIGRATE_SIZING). */
  batchSize?: number | undefined;
  /** The adaptive policy (default MIGRATE_SIZING): for tests and `npm run bench`; requests cannot set it. */
  sizing?: SizingPolicy | undefined;
  parallelism: number;
  serverIds?: string[] | undefined;
  /** A dry run's planId: the run goes ahead only while the database still matches that plan. */
  planId?: string | undefined;
}

/** Measured with `npm run bench` at 100k servers × 10 tools (README). */
export const MIGRATE_DEFAULTS = { parallelism: 2 } as const;

/** Adaptive batches start at the size `npm run bench -- --sweep` found best on Node, and aim at a second each. */
export const MIGRATE_SIZING: SizingPolicy = { first: 2_000, targetMs: 1_000, min: 200, max: 20_000 };

/** A dry run reads every row once; it may take this long. */
const PLAN_TIMEOUT_MS = 300_000;

/** How many skipped rows per table the report lists. */
const SKIPPED_SAMPLE = 100;

interface Copied {
  batches: number;
  retries: number;
  resources: number;
  capabilities: number;
}

/** What the database holds: the v1 shape (or a 422), the mapping for it, ids asked for that do not exist. */
async function understand(db: Queryable, input: MigrateInput) {
  const shape = await detectV1Shape(db);
  const m = mappingFor(shape);
  const subset: Subset = input.serverIds ?? null;
  const unknownServerIds = input.serverIds
    ? (await queryRows(db, unknownServerIdsSql(m, input.serverIds))).map((r) => r.id)
    : [];
  return { shape, m, subset, unknownServerIds };
}

/** The plan's fingerprint (see fingerprintSql): what a run given a planId must find. */
async function fingerprint(db: Queryable, m: Mapping, subset: Subset): Promise<string> {
  const v2Present = (await existingTables(db, [m.servers.v2Table, m.tools.v2Table])).size === 2;
  return (await queryOne(db, fingerprintSql(m, { subset, v2Present }))).plan_id;
}

const stalePlan = (planId: string, current: string) =>
  new ServiceError(
    'stale-plan',
    `The database no longer matches plan ${planId}: make a new plan with a dry run and review it.`,
    { facts: { planId, currentPlanId: current } },
  );

/** Counts per table and the rows that cannot be copied (sampled only when there are any). */
async function plan(db: Queryable, m: Mapping, subset: Subset, countPresent: boolean) {
  const v2Present = (await existingTables(db, [m.servers.v2Table, m.tools.v2Table])).size === 2;
  const counts = await queryOne(db, planCountsSql(m, { subset, v2Present, countPresent }));
  let sampled: { table: string; id: string; reason: string }[] = [];
  if (counts.servers_skipped + counts.tools_skipped > 0) {
    sampled = await queryRows(db, skippedRowsSql(m, { subset, v2Present, limit: SKIPPED_SAMPLE }));
  }
  const skippedOf = (table: string, count: number): SkippedRows => {
    const rows = sampled.filter((r) => r.table === table).map(({ id, reason }) => ({ id, reason }));
    return { count, rows, truncated: count > rows.length };
  };
  return {
    counts,
    skipped: {
      resources: skippedOf(m.servers.v2Table, counts.servers_skipped),
      capabilities: skippedOf(m.tools.v2Table, counts.tools_skipped),
    },
  };
}

/**
 * Copies every server in scope with its tools, batch after batch, several batches at once on
 * their own connections. Each batch is one transaction: a failure leaves whole batches only,
 * and a re-run skips what they copied. `copied` counts as it goes, for a failed run's report.
 */
async function copyInBatches(
  db: Database,
  lease: Lease,
  m: Mapping,
  subset: Subset,
  input: MigrateInput,
  ctx: OperationContext<MigrationReport>,
  copied: Copied,
  plan: BatchPlan,
  /** After each committed batch: the report's figures so far, stored with the running report. */
  checkpoint: () => void,
) {
  let cursor: string | null = null;
  let exhausted = false;
  let numbered = 0;
  let handedServers = 0;
  // Batches to go at the size the next batch would get: the total a progress shows.
  const estimate = () =>
    exhausted ? numbered : numbered + Math.ceil(Math.max(0, plan.servers - handedServers) / plan.sizer.next);

  // Batch bounds come one at a time; streams take them in turn. Each is a step of its own, so a
  // replayed Workflow hands out the same batches under the same names, whatever sizes it would choose now.
  const nextRange = oneAtATime(async () => {
    if (exhausted) return null;
    const n = numbered + 1;
    const size = plan.sizer.take();
    const { hi, more } = await ctx.step(
      `range ${n}`,
      () => queryOne(db, nextBatchSql(m, { subset, after: cursor, size })),
      { timeoutMs: BATCH_LIMITS.statementTimeoutMs },
    );
    if (!more) {
      exhausted = true;
      return null;
    }
    numbered = n;
    handedServers += size;
    const lo = cursor;
    if (hi === null)
      exhausted = true; // the last, partial batch
    else cursor = hi;
    return { n, lo, hi, size };
  });

  await inStreams(streamsFor(db, input.parallelism), nextRange, async ({ n, lo, hi, size }) => {
    ctx.throwIfCancelled(); // a step boundary: what committed stays, and the report says so
    const result = await ctx.step(
      `batch ${n}`,
      async () => {
        const started = performance.now();
        let retries = 0;
        const copiedNow = await withRetry(
          () =>
            lease.fenced(
              (tx) => onceInRun(tx, ctx, `batch ${n}`, () => queryOne(tx, copyBatchSql(m, { subset, lo, hi }))),
              { ...BATCH_LIMITS, timeZone: 'UTC' },
            ),
          () => retries++,
        );
        return { ...copiedNow, retries, ms: Math.round(performance.now() - started) };
      },
      batchStep(BATCH_LIMITS),
    );
    copied.batches++;
    copied.retries += result.retries;
    copied.resources += result.resources_copied;
    copied.capabilities += result.capabilities_copied;
    plan.sizer.observe(size, result.ms);
    plan.batches = Math.max(estimate(), copied.batches);
    checkpoint();
    ctx.progress({ done: copied.batches, total: plan.batches });
  });
  plan.batches = copied.batches;
}

/** How the servers in scope go into batches: their number, the sizer, the batches it makes (an estimate until the end). */
interface BatchPlan {
  servers: number;
  sizer: BatchSizer;
  batches: number;
}

function batchPlan(input: MigrateInput, servers: number): BatchPlan {
  const sizer = new BatchSizer(input.batchSize, input.sizing ?? MIGRATE_SIZING);
  return { servers, sizer, batches: Math.ceil(servers / sizer.next) };
}

interface ReportParts {
  input: MigrateInput;
  planId: string | null;
  db: Database;
  shape: V1Shape;
  unknownServerIds: string[];
  schema: MigrationOutcome[];
  counts: PlanCounts;
  skipped: { resources: SkippedRows; capabilities: SkippedRows };
  copied: Copied;
  plan: BatchPlan;
  timings: Record<string, number>;
}

/** The migration report's own fields and its summary, from what the run knows so far. */
function migrationReport({
  input,
  planId,
  db,
  shape,
  unknownServerIds,
  schema,
  counts,
  skipped,
  copied,
  plan: batchPlan,
  timings,
}: ReportParts): Outcome<MigrationReport> {
  const table = (planned: number, present: number, skippedRows: SkippedRows, copiedRows: number): TableCounts => ({
    planned,
    toCopy: input.dryRun ? planned - present - skippedRows.count : 0,
    copied: copiedRows,
    // After a run, what was neither copied nor skipped was there before (or was added meanwhile).
    alreadyPresent: input.dryRun ? present : Math.max(0, planned - copiedRows - skippedRows.count),
    skipped: skippedRows,
  });
  const tables = {
    resources: table(counts.servers_planned, counts.servers_present, skipped.resources, copied.resources),
    capabilities: table(counts.tools_planned, counts.tools_present, skipped.capabilities, copied.capabilities),
  };
  if (!input.dryRun) {
    tables.resources.toCopy = tables.resources.copied;
    tables.capabilities.toCopy = tables.capabilities.copied;
  }
  const moved = input.dryRun
    ? [tables.resources.toCopy, tables.capabilities.toCopy]
    : [copied.resources, copied.capabilities];
  const present = tables.resources.alreadyPresent + tables.capabilities.alreadyPresent;
  const skippedCount = skipped.resources.count + skipped.capabilities.count;
  return {
    status: 'succeeded',
    summary: {
      message: `${input.dryRun ? 'Would copy' : 'Copied'} ${count(moved[0]!, 'server')} and ${count(moved[1]!, 'tool')}; ${count(present, 'row')} already in v2; ${skippedCount} skipped.`,
      copied: copied.resources + copied.capabilities,
      toCopy: moved[0]! + moved[1]!,
      alreadyPresent: present,
      skipped: skippedCount,
    },
    dryRun: input.dryRun,
    planId,
    v1Shape: shape.name,
    v1: { toolSchemaColumn: shape.toolSchemaColumn, toolCounters: shape.toolCounters },
    schema: { migrations: schema },
    tables,
    unknownServerIds,
    batches: {
      size: batchPlan.sizer.sizing.first,
      sizing: batchPlan.sizer.sizing,
      parallelism: input.dryRun ? 0 : streamsFor(db, input.parallelism),
      planned: batchPlan.batches,
      committed: copied.batches,
      retries: copied.retries,
    },
    timings,
  };
}

function stopwatch() {
  const timings: Record<string, number> = {};
  const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[`${phase}Ms`] = Math.round(performance.now() - started);
    }
  };
  return { timings, time };
}

/** A dry run: no lock and no write, one read-only snapshot for every figure. */
function planMigration(
  db: Database,
  input: MigrateInput,
  ctx: OperationContext<MigrationReport>,
): Promise<Outcome<MigrationReport>> {
  return db.transaction(
    async (tx) => {
      const { timings, time } = stopwatch();
      const { shape, m, subset, unknownServerIds } = await understand(tx, input);
      ctx.started();
      const planId = await time('fingerprint', () => fingerprint(tx, m, subset));
      const schema = await time('schema', () => planMigrations(tx, V2_MIGRATIONS));
      const { counts, skipped } = await time('plan', () => plan(tx, m, subset, true));
      const copied = { batches: 0, retries: 0, resources: 0, capabilities: 0 };
      return migrationReport({
        input,
        planId,
        db,
        shape,
        unknownServerIds,
        schema,
        counts,
        skipped,
        copied,
        plan: batchPlan(input, counts.servers_planned),
        timings,
      });
    },
    {
      readOnly: true,
      isolation: 'repeatable read',
      statementTimeoutMs: PLAN_TIMEOUT_MS,
      snapshotMaxMs: SNAPSHOT_MAX_MS,
    },
  );
}

/** A run: holding the lease, the schema phase, then the data phase in batches, each fenced. */
function runMigration(
  db: Database,
  input: MigrateInput,
  ctx: OperationContext<MigrationReport>,
): Promise<Outcome<MigrationReport>> {
  return withLease(db, ctx, 'migration', async (lease) => {
    const { timings, time } = stopwatch();
    const { shape, m, subset, unknownServerIds } = await understand(db, input);
    const { planId } = input;
    if (planId) {
      // A step: a replayed Workflow finds the plan as it was checked, not the rows the run has copied since.
      const current = await ctx.step('plan check', () => fingerprint(db, m, subset), {
        timeoutMs: PLAN_TIMEOUT_MS,
      });
      if (current !== planId) throw stalePlan(planId, current);
    }
    const schema = await time('schema', () => applyMigrations(lease.session, V2_MIGRATIONS));
    ctx.started();
    const { counts, skipped } = await time('plan', () => plan(db, m, subset, false));
    const copied: Copied = { batches: 0, retries: 0, resources: 0, capabilities: 0 };
    const batches = batchPlan(input, counts.servers_planned);
    const parts = {
      input,
      planId: planId ?? null,
      db,
      shape,
      unknownServerIds,
      schema,
      counts,
      skipped,
      copied,
      plan: batches,
      timings,
    };
    ctx.progress({ done: 0, total: batches.batches });
    try {
      const checkpoint = () => ctx.checkpoint(migrationReport(parts));
      await time('data', () => copyInBatches(db, lease, m, subset, input, ctx, copied, batches, checkpoint));
      // Fresh statistics for what was copied: the planner would otherwise plan on empty tables until autovacuum comes.
      // Both at once, on connections of the pool (PGlite's one backend takes them in turn).
      if (copied.resources + copied.capabilities > 0)
        await time('analyze', () =>
          Promise.all([m.servers.v2Table, m.tools.v2Table].map((table) => execute(db, analyzeSql(table)))),
        );
    } finally {
      ctx.checkpoint(migrationReport(parts)); // what landed, should the data phase have failed
    }
    return migrationReport(parts);
  });
}

/**
 * POST /migrate: SARK v1 → v2 through the mapping. A dry run reads only; a run holds the
 * lease throughout, creates the v2 tables from drizzle/ (adopting SARK-made ones)
 * and copies the rows in keyset batches.
 */
export function migrate(
  db: Database,
  input: MigrateInput,
  ctx: OperationContext<MigrationReport>,
): Promise<Outcome<MigrationReport>> {
  return input.dryRun ? planMigration(db, input, ctx) : runMigration(db, input, ctx);
}
