import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNeonDatabase } from '../src/adapters/db/neon.js';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import { pgliteDatabase } from '../src/adapters/db/pglite.js';
import { PGlite } from '@electric-sql/pglite';
import { ADVISORY_LOCK } from '../src/adapters/db/types.js';
import { WAITING_PER_CONNECTION } from '../src/adapters/db/pool.js';
import { describeEachDatabase } from './support/databases.js';
import { inject } from 'vitest';

/** The same contract on every adapter: what operations may rely on, whatever the driver. */
describeEachDatabase('database adapter contract', (current) => {
  it('binds values and returns rows typed alike on every driver', async () => {
    const { db } = current();
    const { rows, rowCount } = await db.query<{
      n: number;
      t: string;
      j: unknown;
      at: Date;
      nothing: null;
      names: string[];
    }>(
      `SELECT $1::int AS n, $2::text AS t, $3::jsonb AS j, '2026-01-02T03:04:05Z'::timestamptz AS at, NULL AS nothing, $4::text[] AS names`,
      [42, "it's; DROP TABLE x --", JSON.stringify({ a: [1, 2] }), ['a', 'b']],
    );
    expect(rowCount).toBe(1);
    expect(rows[0]).toEqual({
      n: 42,
      t: "it's; DROP TABLE x --",
      j: { a: [1, 2] },
      at: new Date('2026-01-02T03:04:05Z'),
      nothing: null,
      names: ['a', 'b'],
    });
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const { db } = current();
    await db.query('CREATE TABLE IF NOT EXISTS contract_tx (id int PRIMARY KEY)');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO contract_tx VALUES (1)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO contract_tx VALUES (2)');
        throw new Error('half-way failure');
      }),
    ).rejects.toThrow('half-way failure');
    const { rows } = await db.query<{ id: number }>('SELECT id FROM contract_tx ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1]);
  });

  it('refuses writes in a read-only transaction', async () => {
    const { db } = current();
    await db.query('CREATE TABLE IF NOT EXISTS contract_ro (id int)');
    await expect(
      db.transaction((tx) => tx.query('INSERT INTO contract_ro VALUES (1)'), { readOnly: true }),
    ).rejects.toMatchObject({ kind: 'read-only', facts: { sqlstate: '25006' } });
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM contract_ro');
    expect(rows[0]!.n).toBe(0);
  });

  it('scopes statement and lock timeouts to the transaction', async () => {
    const { db } = current();
    const inside = await db.transaction(
      (tx) =>
        tx.query<{ st: string; lt: string }>(
          `SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`,
        ),
      { statementTimeoutMs: 1500, lockTimeoutMs: 250 },
    );
    expect(inside.rows[0]).toEqual({ st: '1500ms', lt: '250ms' });
    // After it, the connection's own bound again (none on the embedded database).
    const after = await db.query<{ st: string }>(`SELECT current_setting('statement_timeout') AS st`);
    expect(after.rows[0]!.st).toBe(current().driver === 'pglite' ? '0' : '10min');
  });

  it('bounds the age of a snapshot: no statement runs past snapshotMaxMs, and none starts after it', async () => {
    const { db } = current();
    const options = { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: 60_000 } as const;
    // The statement is cut where the snapshot's age runs out (real PostgreSQL), or the next one
    // is refused (PGlite, whose statement_timeout does not interrupt): either way, the same answer.
    const tooOld = db.transaction(
      async (tx) => {
        await tx.query('SELECT pg_sleep(0.6)');
        await tx.query('SELECT 1');
      },
      { ...options, snapshotMaxMs: 300 },
    );
    await expect(tooOld).rejects.toMatchObject({ kind: 'statement-timeout', facts: { snapshotMaxMs: 300 } });
    // Young enough: the statement keeps its own timeout, and the transaction commits.
    const young = await db.transaction(
      (tx) => tx.query<{ st: string }>(`SELECT current_setting('statement_timeout') AS st`),
      { ...options, snapshotMaxMs: 600_000 },
    );
    expect(young.rows[0]!.st).toBe('1min');
  });

  it('keeps SQL errors as they are: a syntax error is not an outage', async () => {
    const { db } = current();
    const failure = await db.query('SELEC 1').catch((e: unknown) => e);
    expect(failure).not.toMatchObject({ kind: 'database-unavailable' });
    expect(failure).toMatchObject({ code: '42601' });
  });

  it('says what a refused value or row means without quoting the row: SQLSTATE, constraint, no message text', async () => {
    const { db } = current();
    const refused = await db.query('SELECT $1::uuid', ['secret-row-value']).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      kind: 'invalid-value',
      message: 'A value does not parse as its type (SQLSTATE 22P02).',
      facts: { sqlstate: '22P02' },
    });
    expect(JSON.stringify({ ...(refused as object), message: (refused as Error).message })).not.toContain('secret');
    expect((refused as Error).cause).toBeUndefined(); // the driver's error, which quotes the value, is not kept

    // A table of its own, not a temporary one: a pool may answer each statement on another connection.
    await db.query('DROP TABLE IF EXISTS keyed');
    await db.query('CREATE TABLE keyed (id text PRIMARY KEY)');
    await db.query(`INSERT INTO keyed VALUES ('secret-key')`);
    const conflict = await db.query(`INSERT INTO keyed VALUES ('secret-key')`).catch((e: unknown) => e);
    expect(conflict).toMatchObject({
      kind: 'constraint-violation',
      facts: { sqlstate: '23505', constraint: 'keyed_pkey' },
    });
    expect(JSON.stringify({ ...(conflict as object), message: (conflict as Error).message })).not.toContain('secret');
    await db.query('DROP TABLE keyed');
  });

  it('gives every connection a statement, lock and idle-transaction timeout, so nothing runs unbounded', async () => {
    const { db, driver } = current();
    if (driver === 'pglite') return; // one embedded backend, in the process: no pool, no connection to bound
    const shown = async (setting: string) =>
      (await db.query<{ v: string }>(`SELECT current_setting($1) AS v`, [setting])).rows[0]!.v;
    expect(await shown('statement_timeout')).toBe('10min');
    expect(await shown('lock_timeout')).toBe('1min');
    expect(await shown('idle_in_transaction_session_timeout')).toBe('5min');
    await db.withAdvisoryLock(async (session) => {
      expect((await session.query<{ v: string }>(`SELECT current_setting('lock_timeout') AS v`)).rows[0]!.v).toBe(
        '1min',
      );
    });
  });

  it('refuses to go on when the locked session did not stay one backend holding the lock (a transaction-mode pooler)', async () => {
    const { db, driver } = current();
    if (driver === 'pglite') return; // its lock is kept in-process
    // What a pooler in transaction mode does to a session: the lock is not there when it is released.
    await expect(
      db.withAdvisoryLock(async (session) => {
        await session.query('SELECT pg_advisory_unlock_all()');
        return 'done';
      }),
    ).rejects.toMatchObject({ kind: 'not-configured', message: expect.stringMatching(/pooler in transaction mode/) });
    await expect(db.withAdvisoryLock(async () => 'again')).resolves.toBe('again'); // nothing left held
  });

  it('lets one advisory-lock session run at a time and frees the lock afterwards', async () => {
    const { db } = current();
    let release!: () => void;
    const holding = db.withAdvisoryLock(
      (session) =>
        new Promise<string>((resolve) => {
          release = () => resolve('first');
          void session.query('SELECT 1');
        }),
    );
    await new Promise((r) => setTimeout(r, 50));
    await expect(db.withAdvisoryLock(async () => 'second')).rejects.toMatchObject({ kind: 'lock-busy' });
    release();
    await expect(holding).resolves.toBe('first');
    await expect(
      db.withAdvisoryLock(async (session) => (await session.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one),
    ).resolves.toBe(1);
  });

  it('releases the advisory lock when the locked work throws', async () => {
    const { db } = current();
    await expect(db.withAdvisoryLock(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(db.withAdvisoryLock(async () => 'again')).resolves.toBe('again');
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('advisory lock on a real server', () => {
  it('is a real pg advisory lock: another process sees it held and cannot take it', async () => {
    const url = process.env.TEST_DATABASE_URL!;
    for (const db of [
      createPgDatabase({ connectionString: url }),
      createNeonDatabase({ connectionString: url, webSocketConstructor: WebSocket, wsProxy: inject('wsProxyUrl') }),
    ]) {
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const seenByOther = await db.withAdvisoryLock(async () => {
          const { rows } = await other.query('SELECT pg_try_advisory_lock($1, $2) AS got', [
            ADVISORY_LOCK.classId,
            ADVISORY_LOCK.objectId,
          ]);
          return rows[0].got as boolean;
        });
        expect(seenByOther).toBe(false);
        const { rows } = await other.query('SELECT pg_try_advisory_lock($1, $2) AS got', [
          ADVISORY_LOCK.classId,
          ADVISORY_LOCK.objectId,
        ]);
        expect(rows[0].got).toBe(true);
      } finally {
        await other.end();
        await db.close();
      }
    }
  });

  it('cancels a statement that outlives its statement timeout', async () => {
    const db = createPgDatabase({ connectionString: process.env.TEST_DATABASE_URL! });
    try {
      await expect(
        db.transaction((tx) => tx.query('SELECT pg_sleep(2)'), { statementTimeoutMs: 100 }),
      ).rejects.toMatchObject({ kind: 'statement-timeout' });
    } finally {
      await db.close();
    }
  });
});

describe('an unreachable database', () => {
  it('is reported as database-unavailable by pg', async () => {
    const db = createPgDatabase({
      connectionString: 'postgres://postgres:secret@127.0.0.1:9/none',
      connectionTimeoutMillis: 2000,
    });
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ kind: 'database-unavailable' });
    await expect(db.transaction(async () => 1)).rejects.toMatchObject({ kind: 'database-unavailable' });
    await db.close();
  });

  it.runIf(process.env.TEST_DATABASE_URL)('is reported as database-unavailable by the Neon driver', async () => {
    const db = createNeonDatabase({
      connectionString: 'postgres://postgres:secret@127.0.0.1:9/none',
      webSocketConstructor: WebSocket,
      wsProxy: inject('wsProxyUrl'),
    });
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ kind: 'database-unavailable' });
    await db.close();
  });

  it('is reported as database-unavailable by a closed PGlite', async () => {
    const db = pgliteDatabase(await PGlite.create());
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ kind: 'database-unavailable' });
    await expect(db.transaction(async () => 1)).rejects.toMatchObject({ kind: 'database-unavailable' });
  });
});

describe('a pool whose connections are all taken', () => {
  const saturate = async (db: ReturnType<typeof createPgDatabase>, max: number) => {
    // Every connection held by a transaction that waits for `release`.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const holders = Array.from({ length: max }, () => db.transaction(async () => (holding++, held)));
    // Once each holder runs in its transaction, every connection is taken: the queue only grows.
    while (holding < max) await new Promise((resolve) => setTimeout(resolve, 10));
    const waiting = Array.from({ length: max * WAITING_PER_CONNECTION }, (_, i) =>
      db.query('SELECT $1::int AS i', [i]),
    );
    const started = Date.now();
    const refused = await db.query('SELECT 1').then(
      () => null,
      (error: unknown) => error,
    );
    const refusedAfterMs = Date.now() - started;
    release();
    await Promise.all(holders);
    const answered = await Promise.all(waiting);
    return { refused, refusedAfterMs, answered: answered.map((r) => r.rows[0]!.i) };
  };

  const drivers = {
    pg: (url: string) => createPgDatabase({ connectionString: url, max: 2 }),
    neon: (url: string) =>
      createNeonDatabase({
        connectionString: url,
        max: 2,
        webSocketConstructor: WebSocket,
        wsProxy: inject('wsProxyUrl'),
      }),
  };
  it.runIf(process.env.TEST_DATABASE_URL).each(Object.keys(drivers) as (keyof typeof drivers)[])(
    'refuses the request past a full queue at once (%s), 503-worthy, and serves every queued one',
    async (driver) => {
      const db = drivers[driver](process.env.TEST_DATABASE_URL!);
      try {
        const { refused, refusedAfterMs, answered } = await saturate(db, 2);
        expect(refused).toMatchObject({ kind: 'database-unavailable', facts: { reason: 'connections-busy' } });
        expect(refusedAfterMs).toBeLessThan(5000); // at once, not after connectionTimeoutMillis (10 s) or never
        expect(answered).toEqual(Array.from({ length: 2 * WAITING_PER_CONNECTION }, (_, i) => i));
      } finally {
        await db.close();
      }
    },
  );
});
