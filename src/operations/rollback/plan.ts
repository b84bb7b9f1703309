import type { Database, Queryable } from '../../adapters/db/types.js';
import type { Mapping } from '../../mapping/mapping.js';
import type { RollbackReport } from '../../reports/rollback.js';
import type { Outcome } from '../../reports/schemas.js';
import { bornInV2Sql, divergentSql, fingerprintSql, planCountsSql } from '../../sql/rollback/plan.js';
import { settingsSql } from '../../sql/rollback/run.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import type { OperationContext } from '../runner.js';
import { LIMITS, understand, type RollbackInput } from './context.js';
import { SNAPSHOT_MAX_MS } from '../snapshot.js';
import { LISTED, nothingToRollBack, planReport } from './report.js';

/** The plan's fingerprint: a run given a planId must find the same. */
export async function fingerprint(db: Queryable, m: Mapping, input: RollbackInput): Promise<string> {
  const { resourceIds = null, backportChanges } = input;
  return (await queryOne(db, fingerprintSql(m, { resourceIds, backportChanges }))).plan_id;
}

/**
 * A dry run: reads only, from one snapshot, and returns the plan (counts, rows born in v2 and
 * what becomes of them, rows changed since cutover) with its planId.
 */
export function planRollback(
  db: Database,
  input: RollbackInput,
  ctx: OperationContext<RollbackReport>,
): Promise<Outcome<RollbackReport>> {
  return db.transaction(
    async (tx) => {
      const m = await understand(tx);
      if (!m) return nothingToRollBack(input);
      await execute(tx, settingsSql());
      const resourceIds = input.resourceIds ?? null;
      const planId = await fingerprint(tx, m, input);
      const counts = await queryOne(tx, planCountsSql(m, { resourceIds }));
      const born = await queryRows(tx, bornInV2Sql(m, { resourceIds, limit: LISTED }));
      const divergent = await queryRows(tx, divergentSql(m, { resourceIds, limit: LISTED }));
      ctx.started();
      return planReport(input, { planId, counts, listed: { born, divergent } });
    },
    {
      readOnly: true,
      isolation: 'repeatable read',
      statementTimeoutMs: LIMITS.statementTimeoutMs,
      snapshotMaxMs: SNAPSHOT_MAX_MS,
    },
  );
}
