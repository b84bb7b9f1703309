import type { Database, Queryable, Session } from '../adapters/db/types.js';
import { applyMigrations, planMigrations, type MigrationOutcome } from '../db/migrate.js';
import { mappingFor, type Mapping } from '../mapping/mapping.js';
import { detectV1Shape } from '../mapping/shape.js';
import { nextBatchSql, copyBatchSql, planCountsSql, skippedRowsSql, unknownServerIdsSql } from '../sql/migrate.js';
import type { OperationOutcome, ReportProgress } from './runner.js';

export interface MigrateInput {
  dryRun: boolean;
  batchSize: number;
  parallelism: number;
  serverIds?: string[] | undefined;
}

/** Measured with `npm run bench` at 100k servers × 10 tools (README). */
export const MIGRATE_DEFAULTS = { batchSize: 2_000, parallelism: 2 } as const;

/** Each batch may hold SARK's locks this long at most, and waits this long for one. */
export const BATCH_LIMITS = { statementTimeoutMs: 120_000, lockTimeoutMs: 5_000 } as const;

/** How many skipped rows per table the report lists. */
const SKIPPED_SAMPLE = 100;
/** lock_not_available, deadlock, serialization: a batch that hit one is tried again. */
const RETRYABLE = new Set(['55P03', '40P01', '40001']);
const MAX_ATTEMPTS = 4;

interface SkippedRows {
  count: number;
  rows: { id: string; reason: string }[];
  truncated: boolean;
}

export interface TableCounts {
  planned: number;
  /** Rows a run would copy (dry run) or copied (run). */
  toCopy: number;
  copied: number;
  alreadyPresent: number;
  skipped: SkippedRows;
}

type PlanCounts = {
  servers_planned: number;
  servers_present: number;
  servers_skipped: number;
  tools_planned: number;
  tools_present: number;
  tools_skipped: number;
};

async function v2TablesPresent(db: Queryable, m: Mapping): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT bool_and(to_regclass(t) IS NOT NULL) AS present FROM unnest($1::text[]) t', [
    [m.servers.v2Table, m.tools.v2Table],
  ]);
  return rows[0]?.present === true;
}

async function skippedRows(db: Queryable, m: Mapping, v2Present: boolean, subset: string[] | null, counts: PlanCounts) {
  const { rows } = await db.query<{ table: string; id: string; reason: string }>(skippedRowsSql(m, v2Present).text, [subset, SKIPPED_SAMPLE]);
  const of = (table: string, count: number): SkippedRows => {
    const listed = rows.filter((r) => r.table === table).map(({ id, reason }) => ({ id, reason }));
    return { count, rows: listed, truncated: count > listed.length };
  };
  return { resources: of(m.servers.v2Table, counts.servers_skipped), capabilities: of(m.tools.v2Table, counts.tools_skipped) };
}

async function withRetry<T>(attempt: () => Promise<T>, onRetry: () => void): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (n >= MAX_ATTEMPTS || !code || !RETRYABLE.has(code)) throw error;
      onRetry();
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** n));
    }
  }
}

interface CopyTotals {
  batches: number;
  retries: number;
  resources: number;
  capabilities: number;
}

/**
 * Copies every server in scope with its tools, batch after batch, `parallelism` batches at
 * a time on their own connections. Each batch is one transaction: a failure leaves whole
 * batches only, and a re-run skips what they copied.
 */
async function copyInBatches(db: Database, session: Session, m: Mapping, input: MigrateInput, totalBatches: number, progress: ReportProgress): Promise<CopyTotals> {
  const subset = input.serverIds ?? null;
  const nextSql = nextBatchSql(m).text;
  const copySql = copyBatchSql(m).text;
  const totals: CopyTotals = { batches: 0, retries: 0, resources: 0, capabilities: 0 };
  let cursor: string | null = null;
  let exhausted = false;
  let failure: unknown;
  let handing: Promise<unknown> = Promise.resolve();

  // Batch bounds come one at a time from the locked session; streams take them in turn.
  const nextRange = () => {
    const range = handing.then(async (): Promise<{ lo: string | null; hi: string | null } | null> => {
      if (exhausted || failure) return null;
      const { rows } = await session.query<{ hi: string | null; more: boolean }>(nextSql, [cursor, input.batchSize, subset]);
      const { hi, more } = rows[0]!;
      if (!more) return null;
      const lo = cursor;
      if (hi === null) exhausted = true; // the last, partial batch
      else cursor = hi;
      return { lo, hi };
    });
    handing = range.catch(() => undefined);
    return range;
  };

  const stream = async () => {
    for (let range = await nextRange(); range; range = await nextRange()) {
      const { lo, hi } = range;
      const result = await withRetry(
        () =>
          db.transaction((tx) => tx.query<{ resources_copied: number; capabilities_copied: number }>(copySql, [lo, hi, subset]), {
            ...BATCH_LIMITS,
            timeZone: 'UTC',
          }),
        () => totals.retries++,
      );
      totals.batches++;
      totals.resources += result.rows[0]!.resources_copied;
      totals.capabilities += result.rows[0]!.capabilities_copied;
      progress({ done: totals.batches, total: Math.max(totalBatches, totals.batches) });
    }
  };

  const streams = Array.from({ length: db.driver === 'pglite' ? 1 : input.parallelism }, () =>
    stream().catch((error: unknown) => {
      failure ??= error;
    }),
  );
  await Promise.all(streams);
  if (failure) throw failure;
  return totals;
}

/**
 * POST /migrate: SARK v1 → v2 through the mapping. Schema phase (v2 tables from drizzle/,
 * adopted when SARK made them), then the data phase in keyset batches. Holds the advisory
 * lock throughout; a dry run reads only.
 */
export async function migrate(db: Database, input: MigrateInput, progress: ReportProgress): Promise<OperationOutcome> {
  return db.withAdvisoryLock(async (session) => {
    const timings: Record<string, number> = {};
    const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        timings[`${phase}Ms`] = Math.round(performance.now() - started);
      }
    };

    const shape = await detectV1Shape(session);
    const m = mappingFor(shape);
    const subset = input.serverIds ?? null;
    const unknownServerIds = subset ? (await session.query<{ id: string }>(unknownServerIdsSql(m).text, [subset])).rows.map((r) => r.id) : [];

    const schema: MigrationOutcome[] = await time('schema', () => (input.dryRun ? planMigrations(session) : applyMigrations(session)));
    const v2Present = await v2TablesPresent(session, m);
    const counts = await time('plan', async () => (await session.query<PlanCounts>(planCountsSql(m, v2Present).text, [subset])).rows[0]!);
    const skipped = await skippedRows(session, m, v2Present, subset, counts);
    const totalBatches = Math.ceil(counts.servers_planned / input.batchSize);
    progress({ done: 0, total: totalBatches });

    const copied = input.dryRun
      ? { batches: 0, retries: 0, resources: 0, capabilities: 0 }
      : await time('data', () => copyInBatches(db, session, m, input, totalBatches, progress));

    const table = (planned: number, present: number, skippedRows: SkippedRows, copiedRows: number): TableCounts => ({
      planned,
      toCopy: planned - present - skippedRows.count,
      copied: copiedRows,
      // After a run, what was neither copied nor skipped was there before (or was added meanwhile).
      alreadyPresent: input.dryRun ? present : Math.max(0, planned - copiedRows - skippedRows.count),
      skipped: skippedRows,
    });
    const tables = {
      resources: table(counts.servers_planned, counts.servers_present, skipped.resources, copied.resources),
      capabilities: table(counts.tools_planned, counts.tools_present, skipped.capabilities, copied.capabilities),
    };
    const verb = input.dryRun ? 'Would copy' : 'Copied';
    const moved = input.dryRun ? [tables.resources.toCopy, tables.capabilities.toCopy] : [copied.resources, copied.capabilities];
    return {
      status: 'succeeded',
      summary: {
        message: `${verb} ${moved[0]} servers and ${moved[1]} tools; ${tables.resources.alreadyPresent + tables.capabilities.alreadyPresent} rows already in v2; ${skipped.resources.count + skipped.capabilities.count} skipped.`,
        copied: copied.resources + copied.capabilities,
        toCopy: tables.resources.toCopy + tables.capabilities.toCopy,
        alreadyPresent: tables.resources.alreadyPresent + tables.capabilities.alreadyPresent,
        skipped: skipped.resources.count + skipped.capabilities.count,
      },
      details: {
        dryRun: input.dryRun,
        v1Shape: shape.name,
        v1: { toolSchemaColumn: shape.toolSchemaColumn, toolCounters: shape.toolCounters },
        schema: { migrations: schema },
        tables,
        unknownServerIds,
        batches: { size: input.batchSize, parallelism: input.dryRun ? 0 : db.driver === 'pglite' ? 1 : input.parallelism, planned: totalBatches, committed: copied.batches, retries: copied.retries },
        timings,
      },
    };
  });
}
