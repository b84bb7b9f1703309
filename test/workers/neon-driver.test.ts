import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createNeonDatabase } from '../../src/adapters/db/neon.js';
import { ADVISORY_LOCK, type Database } from '../../src/adapters/db/types.js';

const provided = inject('sarkWorkers');

/** The Neon driver inside workerd, through the WebSocket proxy, against the seeded database. */
describe('Neon driver inside workerd', () => {
  // A table of this file's own: on PGlite every connection shares one backend, so temp tables would not isolate.
  const scratch = `workers_scratch_${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let db: Database;

  beforeAll(async () => {
    db = createNeonDatabase({ connectionString: provided.databaseUrl, wsProxy: provided.wsProxy });
    await db.query(`CREATE TABLE ${scratch} (id int PRIMARY KEY, note text NOT NULL)`);
  });

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${scratch}`);
    await db.close();
  });

  const count = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${scratch}`)).rows[0]?.n;

  it('reads the seeded v1 data', async () => {
    const { rows } = await db.query<{ servers: number; tools: number }>(
      'SELECT (SELECT count(*)::int FROM mcp_servers) AS servers, (SELECT count(*)::int FROM mcp_tools) AS tools',
    );
    expect(rows[0]).toEqual({ servers: 20, tools: 60 });
  });

  it('times a statement inside workerd, counting rows across many WebSocket messages', async () => {
    const counted = await db.transaction(async (tx) => {
      const timing = await tx.timed!(`SELECT repeat('x', 100) AS filler FROM generate_series(1, $1::int)`, [10000]);
      expect(timing.ms).toBeGreaterThanOrEqual(0); // workerd's clock advances only across I/O; the round trip is I/O
      // The driver has its connection back, in the same transaction.
      expect((await tx.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      return timing.rows;
    });
    expect(counted).toBe(10000);
    await expect(db.transaction((tx) => tx.timed!('SELECT 1 / $1::int', [0]))).rejects.toMatchObject({
      kind: 'invalid-value',
      facts: { sqlstate: '22012' },
    });
  });

  it('rolls a transaction back when its function throws', async () => {
    const failure = new Error('abort on purpose');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${scratch} (id, note) VALUES ($1, $2)`, [1, 'rolled back']);
        const inside = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${scratch}`);
        expect(inside.rows[0]?.n).toBe(1);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await count()).toBe(0);
  });

  it('commits a transaction when its function resolves', async () => {
    const result = await db.transaction(async (tx) => {
      const inserted = await tx.query(`INSERT INTO ${scratch} (id, note) VALUES ($1, $2), ($3, $4)`, [
        2,
        'kept',
        3,
        'kept too',
      ]);
      return inserted.rowCount;
    });
    expect(result).toBe(2);
    expect(await count()).toBe(2);
  });

  it('refuses writes in a read-only transaction', async () => {
    await expect(
      db.transaction((tx) => tx.query(`INSERT INTO ${scratch} (id, note) VALUES (9, 'no')`), { readOnly: true }),
    ).rejects.toThrow(/read-only/);
    expect(await count()).toBe(2);
  });

  it('holds the advisory lock for the whole session, and releases it afterwards', async () => {
    // By this session's backend only: other test files may hold the service's lock meanwhile.
    const lockHeld = (q: Pick<Database, 'query'>, pid: number) =>
      q.query<{ held: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted AND pid = $3) AS held`,
        [ADVISORY_LOCK.classId, ADVISORY_LOCK.objectId, pid],
      );
    let pid = 0;
    const inside = await db.withAdvisoryLock(async (session) => {
      pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const held = (await lockHeld(session, pid)).rows[0]?.held;
      const written = await session.transaction((tx) => tx.query(`UPDATE ${scratch} SET note = 'locked' WHERE id = 2`));
      return { held, updated: written.rowCount };
    });
    expect(inside).toEqual({ held: true, updated: 1 });
    expect((await lockHeld(db, pid)).rows[0]?.held).toBe(false);
  });

  // PGlite serves every connection from one backend, where session advisory locks are re-entrant.
  it.skipIf(!provided.realPostgres)('turns a second changing session away with lock-busy', async () => {
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const hasLock = new Promise<void>((resolve) => (entered = resolve));
    const first = db.withAdvisoryLock(async () => {
      entered();
      await holding;
    });
    await hasLock;
    await expect(db.withAdvisoryLock(async () => 'second')).rejects.toMatchObject({ kind: 'lock-busy' });
    release();
    await first;
    await expect(db.withAdvisoryLock(async () => 'after')).resolves.toBe('after');
  });
});
