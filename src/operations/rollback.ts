import type { Database, Queryable } from '../adapters/db/types.js';
import { isServiceError, ServiceError } from '../errors.js';
import { mappingFor } from '../mapping/mapping.js';
import { detectV1Shape } from '../mapping/shape.js';
import { existingTables } from '../sql/introspection.js';
import { rollbackSql, type RollbackSql } from '../sql/rollback.js';
import { BATCH_LIMITS, inStreams, listed, streamsFor, withRetry } from './batches.js';
import type { OperationContext, OperationOutcome } from './runner.js';

export interface RollbackInput {
  dryRun: boolean;
  resourceIds?: string[] | undefined;
  planId?: string | undefined;
  backportChanges: boolean;
  batchSize: number;
  parallelism: number;
}

/** Measured with `npm run bench` at 100k servers × 10 tools (README). */
export const ROLLBACK_DEFAULTS = { batchSize: 5_000, parallelism: 2 } as const;

/** Rows listed per kind (born in v2, divergent); counts are always complete. */
const LISTED = 1000;
/** A run lists divergent rows only to backport them: the dry run (the plan) lists them. */
const UNLISTED = 'listed by the dry run (the plan); the archive keeps the v2 rows';
/** A dry run, and the last transaction of a run (a subset's resources, orphans), may take this long. */
const LIMITS = { statementTimeoutMs: 600_000, lockTimeoutMs: 5_000 } as const;

type PlanCounts = {
  resources_in_scope: number;
  resources_removed: number;
  resources_v1_origin: number;
  capabilities_removed: number;
  orphans_removed: number;
};
/** Listed rows; each carries its kind's complete count (`total`, and `staying` of born rows), listed or not. */
type Born = { table: string; id: string; written_back: boolean; reason: string | null; total: number; staying: number };
type Divergent = { table: string; id: string; fields: string[]; total: number };
type Totals = { born: number; staying: number; divergent: number | null };

const stalePlan = (planId: string, current: string) =>
  new ServiceError(
    'stale-plan',
    `The database no longer matches plan ${planId}: make a new plan with a dry run and review it.`,
    { facts: { planId, currentPlanId: current } },
  );

type Listed = { born: Born[]; divergent: Divergent[] | null };
type Plan = Listed & { planId: string | null; counts: PlanCounts | null; totals: Totals };
/** What a run did so far: committed batches only. */
type Done = {
  resources: number;
  capabilities: number;
  orphans: number;
  serversWrittenBack: number;
  toolsWrittenBack: number;
  serversBackported: number;
  toolsBackported: number;
};
/**
 * How a batch went: its capabilities archived in one pass (whole), classified first after that
 * pass found one born in v2 (fell back), or classified first from the start.
 */
type Path = 'whole' | 'fell back' | 'classified';
type Run = {
  rollbackId: string;
  done: Done;
  /** In-scope MCP resources still in v2 once the last batch committed (null until then). */
  remaining: number | null;
  batches: {
    size: number;
    parallelism: number;
    planned: number;
    committed: number;
    retries: number;
    archivedWhole: number;
    fellBack: number;
  };
};
/** A batch's pages: lo <= ctid < hi, as tids; NULL: unbounded. */
type PageRange = { lo: string | null; hi: string | null };
type ForeignKey = { holds: boolean };

const nothingDone = (): Done => ({
  resources: 0,
  capabilities: 0,
  orphans: 0,
  serversWrittenBack: 0,
  toolsWrittenBack: 0,
  serversBackported: 0,
  toolsBackported: 0,
});

/** The complete counts behind listings cut at LISTED rows a kind. */
function totalsOf({ born, divergent }: Listed): Totals {
  const perKind = <R extends { table: string }>(rows: R[], count: (r: R) => number) =>
    [...new Map(rows.map((r) => [r.table, count(r)])).values()].reduce((a, b) => a + b, 0);
  return {
    born: perKind(born, (r) => r.total),
    staying: perKind(born, (r) => r.staying),
    divergent: divergent && perKind(divergent, (r) => r.total),
  };
}

const fingerprint = async (db: Queryable, input: RollbackInput, sql: RollbackSql) =>
  (await db.query<{ plan_id: string }>(sql.fingerprint, [input.resourceIds ?? null, String(input.backportChanges)]))
    .rows[0]!.plan_id;

/** The plan: fingerprint, counts, born-in-v2 and divergent rows, from one snapshot. */
async function inspect(db: Queryable, input: RollbackInput, sql: RollbackSql): Promise<Plan> {
  const subset = input.resourceIds ?? null;
  const planId = await fingerprint(db, input, sql);
  const counts = (await db.query<PlanCounts>(sql.planCounts, [subset])).rows[0]!;
  const born = (await db.query<Born>(sql.bornInV2, [subset, LISTED])).rows;
  const divergent = (await db.query<Divergent>(sql.divergent, [subset, LISTED])).rows;
  return { planId, counts, born, divergent, totals: totalsOf({ born, divergent }) };
}

function report(input: RollbackInput, plan: Plan, run: Run | null): OperationOutcome {
  const { counts, divergent, planId, totals } = plan;
  const born = [...plan.born].sort((a, b) => a.table.localeCompare(b.table) || (a.id < b.id ? -1 : 1)).slice(0, LISTED);
  const bornRows = born.map((b) => ({
    table: b.table,
    id: b.id,
    outcome: b.written_back ? 'written back to v1' : 'stays in v2',
    ...(b.reason && !b.written_back ? { reason: b.reason } : {}),
  }));
  const done = run?.done;
  const c = counts ?? {
    resources_in_scope: 0,
    resources_removed: 0,
    resources_v1_origin: 0,
    capabilities_removed: 0,
    orphans_removed: 0,
  };
  const tables = {
    resources: done
      ? {
          removed: done.resources,
          writtenBack: done.serversWrittenBack,
          backported: done.serversBackported,
          ...(typeof run?.remaining === 'number' ? { remaining: run.remaining } : {}),
        }
      : { inScope: c.resources_in_scope, v1Origin: c.resources_v1_origin, toRemove: c.resources_removed },
    capabilities: done
      ? {
          removed: done.capabilities,
          orphans: done.orphans,
          writtenBack: done.toolsWrittenBack,
          backported: done.toolsBackported,
        }
      : { toRemove: c.capabilities_removed + c.orphans_removed, orphans: c.orphans_removed },
  };
  const verb = input.dryRun ? 'Would remove' : 'Removed';
  const changed = divergent
    ? `${totals.divergent} changed since cutover${input.backportChanges ? ' (backported to v1)' : ' (v1 keeps its values; the v2 rows are archived)'}`
    : 'rows changed since cutover not listed (v1 keeps its values; the v2 rows are archived)';
  const removed = done
    ? [done.resources, done.capabilities]
    : [c.resources_removed, c.capabilities_removed + c.orphans_removed];
  // Born rows that stay are reported with their reason; anything else left was changed or added while the run went on.
  const remaining = run?.remaining
    ? `; ${run.remaining} MCP resources in scope remain in v2 (born ones that stay, and any changed during the run, which a re-run takes)`
    : '';
  return {
    status: 'succeeded',
    summary: {
      message: `${verb} ${removed[0]} MCP resources and ${removed[1]} capabilities from v2${run ? ` in ${run.batches.committed} batches` : ''}; ${totals.born} rows born in v2 (${totals.staying} stay in v2); ${changed}${remaining}.`,
      removed: removed[0]! + removed[1]!,
      bornInV2: totals.born,
      divergent: totals.divergent,
    },
    details: {
      dryRun: input.dryRun,
      planId,
      backportChanges: input.backportChanges,
      tables,
      bornInV2: { rows: bornRows, truncated: bornRows.length < totals.born },
      divergent: divergent
        ? {
            rows: divergent.slice(0, LISTED).map(({ table, id, fields }) => ({ table, id, fields })),
            truncated: Math.min(divergent.length, LISTED) < totals.divergent!,
            listed: true,
          }
        : { rows: [], truncated: false, listed: false, note: UNLISTED },
      ...(run ? { batches: run.batches } : {}),
      archive: run
        ? {
            rollbackId: run.rollbackId,
            resources: 'sark_migrate.archived_resources',
            capabilities: 'sark_migrate.archived_capabilities',
          }
        : {
            rollbackId: null,
            resources: 'sark_migrate.archived_resources',
            capabilities: 'sark_migrate.archived_capabilities',
            note: 'a run archives every removed row here, under its rollbackId',
          },
    },
  };
}

const empty = (input: RollbackInput): OperationOutcome => ({
  status: 'succeeded',
  summary: { message: 'There is no v2 resources table: nothing to roll back.', removed: 0, bornInV2: 0, divergent: 0 },
  details: {
    dryRun: input.dryRun,
    planId: null,
    tables: {},
    bornInV2: { rows: [], truncated: false },
    divergent: { rows: [], truncated: false, listed: true },
    archive: null,
  },
});

/** A dry run: reads only, from one snapshot, and returns the plan with its planId. */
function planRollback(db: Database, input: RollbackInput, ctx: OperationContext): Promise<OperationOutcome> {
  return db.transaction(
    async (tx) => {
      if ((await existingTables(tx, ['resources', 'capabilities'])).size < 2) return empty(input);
      const sql = rollbackSql(mappingFor(await detectV1Shape(tx)));
      await tx.query(sql.settings);
      const plan = await inspect(tx, input, sql);
      ctx.started();
      return report(input, plan, null);
    },
    { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: LIMITS.statementTimeoutMs },
  );
}

/** A value v1 cannot hold (class 22) or a constraint it enforces (class 23): a refusal of that row, not a failure of the run. */
const refusedByV1 = (error: unknown) => isServiceError(error, 'invalid-value', 'constraint-violation');

/**
 * Writes the batch's rows born in v2 back into v1, in one statement per table. v1 may still
 * refuse a row the checks let through (a value longer than its column, a consul_id two born
 * servers share, a date that does not parse): then resource by resource, each under a
 * savepoint, and what v1 refuses stays in v2 with PostgreSQL's reason.
 */
async function writeBack(
  tx: Queryable,
  sql: RollbackSql,
): Promise<Pick<Done, 'serversWrittenBack' | 'toolsWrittenBack'>> {
  const count = async (text: string, values: unknown[]) => (await tx.query(text, values)).rowCount;
  await tx.query('SAVEPOINT write_back');
  try {
    const written = {
      serversWrittenBack: await count(sql.writeBackServers, [null]),
      toolsWrittenBack: await count(sql.writeBackTools, [null]),
    };
    await tx.query('RELEASE SAVEPOINT write_back');
    return written;
  } catch (error) {
    if (!refusedByV1(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT write_back');
  }
  const written = { serversWrittenBack: 0, toolsWrittenBack: 0 };
  for (const { id } of (await tx.query<{ id: string }>(sql.writeBackResources)).rows) {
    await tx.query('SAVEPOINT write_back_one');
    try {
      const servers = await count(sql.writeBackServers, [id]);
      const tools = await count(sql.writeBackTools, [id]);
      await tx.query('RELEASE SAVEPOINT write_back_one');
      written.serversWrittenBack += servers;
      written.toolsWrittenBack += tools;
    } catch (error) {
      if (!refusedByV1(error)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT write_back_one');
      await tx.query(sql.refuseWriteBack, [id, `v1 refused it: ${(error as Error).message}`]);
    }
  }
  return written;
}

/** Runs one of the archive statements (a delete and its archive) and answers the rows it removed. */
const archived = async (tx: Queryable, text: string, rollbackId: string) =>
  (await tx.query<{ removed: number }>(text, [rollbackId])).rows[0]!.removed;

/**
 * Whether a batch tries the fast path. It saves reading the batch's capabilities twice, and
 * costs a rolled-back statement where a capability was born in v2 after all, so a run stops
 * trying once more than one batch in ten (after the first) has fallen back.
 */
class FastPath {
  tried = 0;
  fellBack = 0;
  worthTrying = () => this.fellBack <= 1 + this.tried / 10;
}

/**
 * The fast path, for a batch of v1-origin resources only, where the foreign key holds and
 * nothing is backported: every capability of the batch goes to the archive in one statement,
 * under a savepoint, which is rolled back if any of them turns out to be born in v2 (it must
 * be written back first). Returns what it removed, or null after rolling back.
 */
async function archiveWholeBatch(
  tx: Queryable,
  sql: RollbackSql,
  rollbackId: string,
  fast: FastPath,
): Promise<Pick<Done, 'resources' | 'capabilities'> | null> {
  const batch = (await tx.query<{ born: number; resources: number }>(sql.batchBornResources)).rows[0]!;
  if (batch.born > 0) return null;
  fast.tried++;
  await tx.query('SAVEPOINT whole_batch');
  const { removed, born } = (
    await tx.query<{ removed: number; born: number }>(sql.archiveBatchCapabilities, [rollbackId])
  ).rows[0]!;
  if (born > 0) {
    fast.fellBack++;
    await tx.query('ROLLBACK TO SAVEPOINT whole_batch');
    return null;
  }
  await tx.query('RELEASE SAVEPOINT whole_batch');
  let resources = await archived(tx, sql.archiveBatchResources, rollbackId);
  if (resources < batch.resources) resources += await archived(tx, sql.archiveBatchResourcesById, rollbackId); // one moved within this transaction
  return { capabilities: removed, resources };
}

/**
 * Rolls back one batch, in the caller's transaction: classifies its resources, writes rows
 * born in v2 back into v1 (backports changes if asked), then archives and deletes. What it
 * returns counts only once the transaction has committed.
 */
async function rollbackBatch(
  tx: Queryable,
  sql: RollbackSql,
  input: RollbackInput,
  range: PageRange,
  rollbackId: string,
  key: ForeignKey,
  fast: FastPath,
) {
  const count = async (text: string, values: unknown[] = []) => (await tx.query(text, values)).rowCount;
  const done = nothingDone();
  await tx.query(sql.settings);
  await tx.query(sql.batch, [input.resourceIds ?? null, range.lo, range.hi]);
  const tries = key.holds && !input.backportChanges && fast.worthTrying();
  const whole = tries ? await archiveWholeBatch(tx, sql, rollbackId, fast) : null;
  if (whole)
    return {
      done: { ...done, ...whole },
      listed: { born: [], divergent: null } as Listed,
      totals: { born: 0, staying: 0, divergent: null } as Totals,
      path: 'whole' as Path,
    };
  const path: Path = tries ? 'fell back' : 'classified';
  await tx.query(sql.bornCapabilities);
  const bornHere = (await tx.query<{ resources: number; capabilities: number }>(sql.batchBorn)).rows[0]!;
  const anyBorn = bornHere.resources + bornHere.capabilities > 0;
  const listed: Listed = { born: [], divergent: null };
  if (input.backportChanges) {
    await tx.query(sql.lockCapabilities); // what is backported is then what the delete archives
    // The listing is a field-by-field compare of every row: worth its cost only beside the backport.
    listed.divergent = (await tx.query<Divergent>(sql.batchDivergent, [LISTED])).rows;
    done.serversBackported = await count(sql.backportServers);
    done.toolsBackported = await count(sql.backportTools);
  }
  if (anyBorn) {
    Object.assign(done, await writeBack(tx, sql));
    listed.born = (await tx.query<Born>(sql.batchBornInV2, [LISTED])).rows; // after: what v1 refused now stays in v2
  }
  // Without the foreign key a writer may add a capability to the batch's resources meanwhile: only what was classified goes.
  done.capabilities = await archived(
    tx,
    key.holds ? sql.archiveCapabilities : sql.archiveClassifiedCapabilities,
    rollbackId,
  );
  done.resources = await archived(tx, key.holds ? sql.archiveResources : sql.archiveClassifiedResources, rollbackId);
  return { done, listed, totals: totalsOf(listed), path };
}

/**
 * The run's batches: ranges of the resources' pages holding about batchSize resources in
 * scope each, so every batch deletes rows that lie together in both tables, as one
 * sequential DELETE would (in id order each batch would touch most pages of capabilities).
 * A subset has no ranges: the last batch, over every resource in scope, takes it whole.
 */
function pageRanges(extent: { pages: number; in_scope: number }, input: RollbackInput): PageRange[] {
  if (input.resourceIds || extent.in_scope === 0) return [];
  const pagesPerBatch = Math.max(1, Math.ceil((input.batchSize * extent.pages) / extent.in_scope));
  const ranges: PageRange[] = [];
  for (let page = 0; page < extent.pages; page += pagesPerBatch)
    ranges.push({ lo: `(${page},0)`, hi: `(${page + pagesPerBatch},0)` });
  return ranges;
}

/**
 * A run, under the advisory lock: batches that each commit with their archive, several at
 * once on their own connections, then a last transaction for what no page range held (a
 * subset, rows moved or added meanwhile) and for orphans. A failure leaves whole batches
 * only; a re-run starts from what is left (rows written back are then of v1 origin).
 */
function runRollback(db: Database, input: RollbackInput, ctx: OperationContext): Promise<OperationOutcome> {
  return db.withAdvisoryLock(async (session) => {
    if ((await existingTables(session, ['resources', 'capabilities'])).size < 2) return empty(input);
    const sql = rollbackSql(mappingFor(await detectV1Shape(session)));
    const { planId, extent, key } = await session.transaction(
      async (tx) => {
        await tx.query(sql.settings);
        const planId = input.planId ? await fingerprint(tx, input, sql) : null;
        const extent = (await tx.query<{ pages: number; in_scope: number }>(sql.extent, [input.resourceIds ?? null]))
          .rows[0]!;
        return { planId, extent, key: (await tx.query<ForeignKey>(sql.foreignKey)).rows[0]! };
      },
      { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: LIMITS.statementTimeoutMs },
    );
    if (input.planId && input.planId !== planId) throw stalePlan(input.planId, planId ?? '');
    ctx.started();
    const ranges = pageRanges(extent, input);
    const plan: Plan = {
      planId,
      counts: null,
      born: [],
      divergent: input.backportChanges ? [] : null,
      totals: { born: 0, staying: 0, divergent: input.backportChanges ? 0 : null },
    };
    const fast = new FastPath();
    const run: Run = {
      rollbackId: crypto.randomUUID(),
      done: nothingDone(),
      remaining: null,
      batches: {
        size: input.batchSize,
        parallelism: streamsFor(db, input.parallelism),
        planned: ranges.length + 1,
        committed: 0,
        retries: 0,
        archivedWhole: 0,
        fellBack: 0,
      },
    };
    const committed = ({ done, listed, totals, path }: Awaited<ReturnType<typeof rollbackBatch>>) => {
      if (path === 'whole') run.batches.archivedWhole++;
      if (path === 'fell back') run.batches.fellBack++;
      for (const key of Object.keys(done) as (keyof Done)[]) run.done[key] += done[key];
      plan.totals.born += totals.born;
      plan.totals.staying += totals.staying;
      if (plan.totals.divergent !== null) plan.totals.divergent += totals.divergent ?? 0;
      plan.born.push(...listed.born.slice(0, LISTED - plan.born.length));
      if (plan.divergent && listed.divergent)
        plan.divergent.push(...listed.divergent.slice(0, LISTED - plan.divergent.length));
      run.batches.committed++;
      ctx.progress({ done: run.batches.committed, total: run.batches.planned });
    };
    ctx.progress({ done: 0, total: run.batches.planned });
    // Read committed: with the batch's resources locked, each statement sees their capabilities as they are then.
    const batchIn = (
      range: PageRange,
      limits: typeof LIMITS | typeof BATCH_LIMITS,
      more?: (tx: Queryable, batch: Awaited<ReturnType<typeof rollbackBatch>>) => Promise<void>,
    ) =>
      withRetry(
        () =>
          db.transaction(
            async (tx) => {
              const batch = await rollbackBatch(tx, sql, input, range, run.rollbackId, key, fast);
              await more?.(tx, batch);
              return batch;
            },
            { ...limits, timeZone: 'UTC' },
          ),
        () => run.batches.retries++,
      );
    try {
      await inStreams(run.batches.parallelism, listed(ranges), async (range) =>
        committed(await batchIn(range, BATCH_LIMITS)),
      );
      // The last batch: what no page range held (a subset, rows moved or added meanwhile), and orphans.
      const last = await batchIn({ lo: null, hi: null }, LIMITS, async (tx, batch) => {
        // Born rows that stay in v2 were reported by the page range that holds them; here only what this batch wrote back counts.
        if (ranges.length > 0) {
          batch.listed.born = batch.listed.born.filter((b) => b.written_back);
          batch.totals = {
            ...batch.totals,
            born: batch.done.serversWrittenBack + batch.done.toolsWrittenBack,
            staying: 0,
          };
        }
        // Orphans exist only where the key was dropped (or never validated): look for them only then.
        batch.done.orphans =
          key.holds || input.resourceIds ? 0 : await archived(tx, sql.archiveOrphans, run.rollbackId);
        batch.done.capabilities += batch.done.orphans;
      });
      committed(last);
      run.remaining = (
        await session.query<{ remaining: number }>(sql.remaining, [input.resourceIds ?? null])
      ).rows[0]!.remaining;
    } finally {
      ctx.checkpoint(report(input, plan, run).details); // what committed, should a batch have failed
    }
    return report(input, plan, run);
  });
}

/**
 * POST /rollback: removes the v1-origin MCP resources and their capabilities, writing rows
 * born in v2 back into v1 first and archiving every removed row in the same transaction as
 * its delete. A dry run reads only and returns the plan with its planId.
 */
export function rollback(db: Database, input: RollbackInput, ctx: OperationContext): Promise<OperationOutcome> {
  return input.dryRun ? planRollback(db, input, ctx) : runRollback(db, input, ctx);
}
