import type { Database, Queryable } from '../adapters/db/types.js';
import { applyMigrations } from '../db/migrate.js';
import { ProblemError } from '../lib/errors.js';
import { mappingFor } from '../mapping/mapping.js';
import { detectV1Shape } from '../mapping/shape.js';
import { existingTables } from '../sql/introspection.js';
import { rollbackSql, type RollbackSql } from '../sql/rollback.js';
import type { OperationContext, OperationOutcome } from './runner.js';

export interface RollbackInput {
  dryRun: boolean;
  resourceIds?: string[] | undefined;
  planId?: string | undefined;
  backportChanges: boolean;
}

/** Rows listed per kind (born in v2, divergent); counts are always complete. */
const LISTED = 1000;
/** A run lists divergent rows only to backport them: the dry run (the plan) lists them. */
const UNLISTED = 'listed by the dry run (the plan); the archive keeps the v2 rows';
const LIMITS = { statementTimeoutMs: 600_000, lockTimeoutMs: 5_000 } as const;

type PlanCounts = { resources_in_scope: number; resources_removed: number; resources_v1_origin: number; capabilities_removed: number; orphans_removed: number };
type Born = { table: string; id: string; written_back: boolean; reason: string | null };
type Divergent = { table: string; id: string; fields: string[] };

export class StalePlanError extends ProblemError {
  constructor(planId: string, current: string) {
    super(409, 'stale-plan', 'The plan is stale', `The database no longer matches plan ${planId}: make a new plan with a dry run and review it.`, { planId, currentPlanId: current });
  }
}

const NOT_COUNTED: PlanCounts = { resources_in_scope: 0, resources_removed: 0, resources_v1_origin: 0, capabilities_removed: 0, orphans_removed: 0 };

/** The plan: fingerprint, counts, born-in-v2 and divergent rows. A run counts what its statements did instead, and fingerprints only to check a planId. */
async function inspect(db: Queryable, input: RollbackInput, sql: RollbackSql) {
  const subset = input.resourceIds ?? null;
  const fingerprint = input.dryRun || input.planId;
  const planId = fingerprint ? (await db.query<{ plan_id: string }>(sql.fingerprint, [subset, String(input.backportChanges)])).rows[0]!.plan_id : null;
  if (!input.dryRun) return { subset, planId, counts: NOT_COUNTED, born: [] as Born[], divergent: null as Divergent[] | null };
  const counts = (await db.query<PlanCounts>(sql.planCounts, [subset])).rows[0]!;
  const born = (await db.query<Born>(sql.bornInV2(true), [subset, LISTED])).rows;
  const divergent: Divergent[] | null = (await db.query<Divergent>(sql.divergent, [subset, LISTED])).rows;
  return { subset, planId, counts, born, divergent };
}

function report(input: RollbackInput, plan: Awaited<ReturnType<typeof inspect>>, done: Record<string, number> | null, rollbackId: string | null): OperationOutcome {
  const { counts, born, divergent, planId } = plan;
  const bornRows = born.map((b) => ({ table: b.table, id: b.id, outcome: b.written_back ? 'written back to v1' : 'stays in v2', ...(b.reason && !b.written_back ? { reason: b.reason } : {}) }));
  const staying = bornRows.filter((b) => b.outcome === 'stays in v2').length;
  const tables = {
    resources: done
      ? { removed: done.resources!, writtenBack: done.serversWrittenBack!, backported: done.serversBackported ?? 0 }
      : { inScope: counts.resources_in_scope, v1Origin: counts.resources_v1_origin, toRemove: counts.resources_removed },
    capabilities: done
      ? { removed: done.capabilities!, orphans: done.orphans!, writtenBack: done.toolsWrittenBack!, backported: done.toolsBackported ?? 0 }
      : { toRemove: counts.capabilities_removed + counts.orphans_removed, orphans: counts.orphans_removed },
  };
  const verb = input.dryRun ? 'Would remove' : 'Removed';
  const changed = divergent
    ? `${divergent.length} changed since cutover${input.backportChanges ? ' (backported to v1)' : ' (v1 keeps its values; the v2 rows are archived)'}`
    : 'rows changed since cutover not listed (v1 keeps its values; the v2 rows are archived)';
  const removed = done ? [done.resources!, done.capabilities!] : [counts.resources_removed, counts.capabilities_removed + counts.orphans_removed];
  return {
    status: 'succeeded',
    summary: {
      message: `${verb} ${removed[0]} MCP resources and ${removed[1]} capabilities from v2; ${born.length} rows born in v2 (${staying} stay in v2); ${changed}.`,
      removed: removed[0]! + removed[1]!,
      bornInV2: born.length,
      divergent: divergent?.length ?? null,
    },
    details: {
      dryRun: input.dryRun,
      planId,
      backportChanges: input.backportChanges,
      tables,
      bornInV2: { rows: bornRows, truncated: born.length >= LISTED },
      divergent: divergent ? { rows: divergent, truncated: divergent.length >= LISTED, listed: true } : { rows: [], truncated: false, listed: false, note: UNLISTED },
      archive: rollbackId
        ? { rollbackId, resources: 'sark_migrate.archived_resources', capabilities: 'sark_migrate.archived_capabilities' }
        : { rollbackId: null, resources: 'sark_migrate.archived_resources', capabilities: 'sark_migrate.archived_capabilities', note: 'a run archives every removed row here, under its rollbackId' },
    },
  };
}

const empty = (input: RollbackInput): OperationOutcome => ({
  status: 'succeeded',
  summary: { message: 'There is no v2 resources table: nothing to roll back.', removed: 0, bornInV2: 0, divergent: 0 },
  details: { dryRun: input.dryRun, planId: null, tables: {}, bornInV2: { rows: [], truncated: false }, divergent: { rows: [], truncated: false, listed: true }, archive: null },
});

/**
 * POST /rollback: removes the v1-origin MCP resources (their capabilities cascade), writing
 * rows born in v2 back into v1 first and archiving every removed row in the same
 * transaction. A dry run reads only and returns the plan with its planId.
 */
export async function rollback(db: Database, input: RollbackInput, ctx: OperationContext): Promise<OperationOutcome> {
  if (input.dryRun) {
    return db.transaction(
      async (tx) => {
        if ((await existingTables(tx, ['resources', 'capabilities'])).size < 2) return empty(input);
        const sql = rollbackSql(mappingFor(await detectV1Shape(tx)));
        for (const setting of sql.settings) await tx.query(setting);
        const plan = await inspect(tx, input, sql);
        ctx.started();
        return report(input, plan, null, null);
      },
      { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: LIMITS.statementTimeoutMs },
    );
  }
  return db.withAdvisoryLock(async (session) => {
    if ((await existingTables(session, ['resources', 'capabilities'])).size < 2) return empty(input);
    await detectV1Shape(session);
    await applyMigrations(session); // the archive tables
    const rollbackId = crypto.randomUUID();
    return session.transaction(
      async (tx) => {
        const sql = rollbackSql(mappingFor(await detectV1Shape(tx)));
        await tx.query(sql.lockTables);
        for (const setting of sql.settings) await tx.query(setting);
        const plan = await inspect(tx, input, sql);
        if (input.planId && input.planId !== plan.planId) throw new StalePlanError(input.planId, plan.planId ?? "");
        ctx.started();
        const { subset } = plan;
        const count = async (text: string, values: unknown[] = []) => (await tx.query(text, values)).rowCount;
        // Classify once: which capabilities were born in v2, which resources leave.
        for (const [statement, takesSubset] of sql.materialize) await tx.query(statement, takesSubset ? [subset] : []);
        plan.born = (await tx.query<Born>(sql.bornInV2(false), [subset, LISTED])).rows;
        const done: Record<string, number> = {};
        if (input.backportChanges) {
          // The listing is a field-by-field compare of every row: worth its cost only beside the backport.
          plan.divergent = (await tx.query<Divergent>(sql.divergent, [subset, LISTED])).rows;
          done.serversBackported = await count(sql.backportServers);
          done.toolsBackported = await count(sql.backportTools);
        }
        done.serversWrittenBack = await count(sql.writeBackServers);
        done.toolsWrittenBack = await count(sql.writeBackTools);
        await tx.query(sql.archiveResources, [rollbackId]);
        const archivedCapabilities = await count(sql.archiveCapabilities, [rollbackId]);
        const key = (await tx.query<{ holds: boolean; cascades: boolean }>(sql.foreignKey)).rows[0]!;
        // Orphans exist only where the key was dropped (or never validated): look for them only then.
        if (!key.holds) await tx.query(sql.archiveOrphans, [subset, rollbackId]);
        done.orphans = key.holds ? 0 : await count(sql.deleteOrphans, [subset]);
        // The tables are locked, so the cascade removes exactly the capabilities just archived.
        done.capabilities = (key.cascades ? archivedCapabilities : await count(sql.deleteCapabilities)) + done.orphans;
        done.resources = await count(sql.deleteResources);
        return report(input, plan, done, rollbackId);
      },
      { ...LIMITS, timeZone: 'UTC' },
    );
  });
}
