import type { TestDatabase } from './databases.js';

const until = async (holds: () => Promise<boolean>) => {
  for (
    const deadline = Date.now() + 10_000;
    !(await holds());
    await new Promise((resolve) => setTimeout(resolve, 20))
  ) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
};

/**
 * A race with a batch held still (real PostgreSQL: it takes a second and third session). A
 * statement trigger (`trigger`: when and on what, e.g. 'AFTER UPDATE ON mcp_tools') makes the
 * batch wait on an advisory lock the gate holds, from the first statement on which `when` (SQL)
 * holds; meanwhile the writer acts, and open() lets the batch go on.
 */
export async function pausedBatch(t: TestDatabase, trigger: string, when = 'true') {
  const key = 4242;
  await t.db.query(
    `CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF ${when} THEN PERFORM pg_advisory_xact_lock(${key}); END IF; RETURN NULL; END $$`,
  );
  await t.db.query(`CREATE TRIGGER pause ${trigger} FOR EACH STATEMENT EXECUTE FUNCTION pause()`);
  const [gate, writer] = [await t.connect!(), await t.connect!()];
  await gate.query('SELECT pg_advisory_lock($1)', [key]);
  const pidOf = async (session: typeof gate) =>
    (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const [gatePid, pid] = [await pidOf(gate), await pidOf(writer)];
  return {
    writer,
    /** The two sessions' backends, for a test that kills every other one. */
    pids: [gatePid, pid],
    /** Until a batch waits at the trigger (pg_locks shows every database's: this one's only). */
    paused: () =>
      until(async () => {
        const waiting = await gate.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [key],
        );
        return waiting.rows[0]!.n > 0;
      }),
    /** Until the writer waits for a lock (or `done` says it needs not). */
    writerWaits: (done: () => boolean = () => false) =>
      until(
        async () =>
          done() ||
          (
            await gate.query<{ w: string | null }>('SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1', [
              pid,
            ])
          ).rows[0]?.w === 'Lock',
      ),
    open: () => gate.query('SELECT pg_advisory_unlock($1)', [key]),
    close: async () => {
      await gate.close();
      await writer.close();
    },
  };
}
