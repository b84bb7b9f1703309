import { SERVICE_SCHEMA } from './catalog.js';
import { sql } from './sql.js';

/**
 * SQL of the run ledger (src/db/service-schema.ts): the lease a changing run holds, the runs,
 * and the steps that committed. Times are the server's clock_timestamp(), never the caller's,
 * so a Worker and a Node process judge an expiry by the same clock.
 */
const LEASE = `${SERVICE_SCHEMA}.lease`;
const RUNS = `${SERVICE_SCHEMA}.runs`;
const STEPS = `${SERVICE_SCHEMA}.run_steps`;

const expiry = (ttlParam: string) => `clock_timestamp() + ${ttlParam}::int * interval '1 millisecond'`;

export type LeaseRow = {
  holder: string | null;
  kind: string | null;
  expires_at: Date | null;
  expired: boolean;
};

/**
 * Takes the lease when it is free, its holder let it expire, or the run holds it already (a
 * Workflow replayed after its isolate was evicted), in one statement. Changing the
 * holder is a key update (the holder is unique), so it waits for any batch still fenced by the
 * old holder to end. `previous_holder` is the run taken over, NULL when the lease was free.
 */
export const takeLeaseSql = (holder: string, kind: string, ttlMs: number) =>
  sql<{ previous_holder: string | null }>(
    `UPDATE ${LEASE}
        SET previous_holder = CASE WHEN holder = $1 THEN previous_holder ELSE holder END,
            holder = $1, kind = $2, taken_at = clock_timestamp(), expires_at = ${expiry('$3')}
      WHERE id = 1 AND (holder IS NULL OR holder = $1 OR expires_at <= clock_timestamp())
  RETURNING previous_holder`,
    [holder, kind, ttlMs],
  );

/** Who holds the lease now (after a take that did not succeed). */
export const leaseSql = () =>
  sql<LeaseRow>(
    `SELECT holder, kind, expires_at, coalesce(expires_at <= clock_timestamp(), false) AS expired FROM ${LEASE} WHERE id = 1`,
  );

/** Pushes the expiry on, if the run still holds the lease; changes no key, so it never waits for a batch. */
export const renewLeaseSql = (holder: string, ttlMs: number) =>
  sql(`UPDATE ${LEASE} SET expires_at = ${expiry('$2')} WHERE id = 1 AND holder = $1`, [holder, ttlMs]);

/** Frees the lease, if the run still holds it. */
export const releaseLeaseSql = (holder: string) =>
  sql(`UPDATE ${LEASE} SET holder = NULL, kind = NULL, expires_at = NULL WHERE id = 1 AND holder = $1`, [holder]);

/**
 * The fence, first in every changing transaction: whether the run holds the lease, the row held
 * FOR KEY SHARE until the transaction ends, so no one can take the lease over while it writes.
 */
export const fenceSql = (holder: string) =>
  sql<{ holds: boolean }>(`SELECT holder IS NOT DISTINCT FROM $1 AS holds FROM ${LEASE} WHERE id = 1 FOR KEY SHARE`, [
    holder,
  ]);

/**
 * Records a run; nothing when it is there already (a replayed Workflow) or when its actor has a
 * read running (the partial unique index runs_one_read_per_actor): `inserted` tells.
 */
export const insertRunSql = (id: string, kind: string, changing: boolean, actor: string) =>
  sql<{ id: string }>(
    `INSERT INTO ${RUNS} (id, kind, status, changing, actor) VALUES ($1, $2, 'running', $3, $4) ON CONFLICT DO NOTHING RETURNING id`,
    [id, kind, changing, actor],
  );

/** Whether the run ledger exists at all (a read-only role may never have been able to create it). */
export const ledgerPresentSql = () => sql<{ present: boolean }>(`SELECT to_regclass('${RUNS}') IS NOT NULL AS present`);

/** Whether the run is recorded, and the read its actor has running (what refused it), if any. */
export const runAndActorSql = (id: string, actor: string) =>
  sql<{ recorded: boolean; running: string | null }>(
    `SELECT EXISTS (SELECT 1 FROM ${RUNS} WHERE id = $1) AS recorded,
            (SELECT id FROM ${RUNS} WHERE actor = $2 AND status = 'running' AND NOT changing LIMIT 1) AS running`,
    [id, actor],
  );

/** The run is alive (and, when it holds the lease, so is the lease): whether a cancel was asked for. */
export const heartbeatSql = (id: string) =>
  sql<{ cancel_requested: boolean }>(
    `UPDATE ${RUNS} SET heartbeat_at = clock_timestamp() WHERE id = $1 RETURNING cancel_requested_at IS NOT NULL AS cancel_requested`,
    [id],
  );

/** The run ended: its status, and its steps forgotten (its report keeps what they did). */
export const finishRunSql = (id: string, status: string) =>
  sql(
    `WITH forgotten AS (DELETE FROM ${STEPS} WHERE run_id = $1)
     UPDATE ${RUNS} SET status = $2, heartbeat_at = clock_timestamp() WHERE id = $1 AND status = 'running'`,
    [id, status],
  );

export type RunRow = {
  id: string;
  kind: string;
  status: string;
  changing: boolean;
  cancel_requested: boolean;
};

/** Asks a running run to stop; the run's row as it is after (no row: not a run of this database). */
export const requestCancelSql = (id: string) =>
  sql<RunRow>(
    `WITH asked AS (
       UPDATE ${RUNS} SET cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp())
        WHERE id = $1 AND status = 'running' RETURNING id)
     SELECT id, kind, CASE WHEN EXISTS (SELECT 1 FROM asked) THEN 'running' ELSE status END AS status, changing,
            EXISTS (SELECT 1 FROM asked) OR cancel_requested_at IS NOT NULL AS cancel_requested
       FROM ${RUNS} WHERE id = $1`,
    [id],
  );

/**
 * Runs still marked running whose process stopped: no heartbeat for `silentMs`, and, for a
 * changing run, no longer holding an unexpired lease. Marked abandoned in the same statement.
 */
const SILENT = (silentParam: string) => `r.status = 'running'
        AND r.heartbeat_at <= clock_timestamp() - ${silentParam}::int * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM ${LEASE} l WHERE l.holder = r.id AND l.expires_at > clock_timestamp())`;

/** Runs silent for silentMs (no heartbeat) that hold no live lease: their process may have stopped. */
export const silentRunsSql = (silentMs: number) =>
  sql<{ id: string; kind: string }>(`SELECT r.id, r.kind FROM ${RUNS} r WHERE ${SILENT('$1')} ORDER BY r.id`, [
    silentMs,
  ]);

/** Marks one such run abandoned, if it is still silent (a heartbeat meanwhile saves it). */
export const abandonRunSql = (id: string, silentMs: number) =>
  sql<{ id: string; kind: string }>(
    `UPDATE ${RUNS} r SET status = 'abandoned' WHERE r.id = $2 AND ${SILENT('$1')} RETURNING r.id, r.kind`,
    [silentMs, id],
  );

/** Forgets a run that never started (refused before its first step): nothing to report, nothing to abandon. */
export const forgetRunSql = (id: string) => sql(`DELETE FROM ${RUNS} WHERE id = $1`, [id]);

/** A committed step's result, if it committed. */
export const stepResultSql = (runId: string, step: string) =>
  sql<{ result: unknown }>(`SELECT result FROM ${STEPS} WHERE run_id = $1 AND step = $2`, [runId, step]);

/** Records a step's result in the transaction of its work. */
export const recordStepSql = (runId: string, step: string, result: unknown) =>
  sql(`INSERT INTO ${STEPS} (run_id, step, result) VALUES ($1, $2, $3::jsonb)`, [runId, step, JSON.stringify(result)]);

/** The sum of the committed steps' figures, per step-name prefix (what the database shows of a run). */
export const committedStepsSql = (runId: string) =>
  sql<{ step: string; result: unknown }>(`SELECT step, result FROM ${STEPS} WHERE run_id = $1 ORDER BY committed_at`, [
    runId,
  ]);

/** Rows in v2 now (what an abandoned migration or rollback left). */
export const v2CountsSql = () =>
  sql<{ resources: number; capabilities: number }>(
    'SELECT (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities',
  );
