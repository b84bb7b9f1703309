import { afterEach, expect, it, vi } from 'vitest';
import type { Queryable } from '../src/adapters/db/types.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * Queryable.timed on every driver: /benchmark's round trip, as pgbench measures it. On pg and the
 * Neon driver a statement is submitted to the connection's client as the driver's own Query,
 * subclassed; PGlite has no wire and times around its query().
 */
describeEachDatabase('timed statements', (current, { driver }) => {
  const wire = it.skipIf(driver === 'pglite');

  /** Runs fn in a transaction on a pg or Neon connection. */
  const inTransaction = (fn: (tx: Queryable, timed: NonNullable<Queryable['timed']>) => Promise<void>) =>
    current().db.transaction((tx) => fn(tx, tx.timed!.bind(tx)));

  it.runIf(driver === 'pglite')('times around query() on PGlite, which has no wire', () =>
    current().db.transaction(async (tx) => {
      const timing = await tx.timed!('SELECT g FROM generate_series(1, $1::int) g', [5]);
      expect(timing.rows).toBe(5);
      expect(timing.ms).toBeGreaterThan(0);
    }),
  );

  afterEach(() => {
    vi.restoreAllMocks();
  });

  wire('counts the rows a statement returns, however many and however they arrive', () =>
    inTransaction(async (tx, timed) => {
      expect((await timed('SELECT g FROM generate_series(1, $1::int) g', [5])).rows).toBe(5);
      expect((await timed('SELECT 1 WHERE false')).rows).toBe(0);
      expect((await timed('SELECT 1')).rows).toBe(1);
      // More than one socket read (about 1 MB), or many WebSocket messages: each row once.
      expect((await timed(`SELECT repeat('x', 100) AS filler FROM generate_series(1, 10000)`)).rows).toBe(10000);
      // A statement without a result set, and an empty one.
      await tx.query('CREATE TEMP TABLE timed_rows (n int) ON COMMIT DROP');
      expect((await timed('INSERT INTO timed_rows SELECT generate_series(1, $1::int)', [3])).rows).toBe(0);
      expect((await timed('')).rows).toBe(0);
      // The driver has its connection back, inside the same transaction.
      expect((await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM timed_rows')).rows[0]!.n).toBe(3);
    }),
  );

  wire('always sends Parse/Bind/Execute, as pgbench -M extended does, even without parameters', () =>
    inTransaction(async (_tx, timed) => {
      // The simple protocol (the drivers' choice without parameters) would run both statements.
      await expect(timed('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: '42601' });
    }),
  );

  wire('times from sending the statement to the server being ready again', () =>
    inTransaction(async (_tx, timed) => {
      const started = performance.now();
      const timing = await timed('SELECT pg_sleep($1::float8)', [0.05]);
      const elapsed = performance.now() - started;
      expect(timing.ms).toBeGreaterThanOrEqual(50);
      expect(timing.ms).toBeLessThanOrEqual(elapsed);
    }),
  );

  wire('binds every kind of value the patterns use exactly as query() binds them', () =>
    inTransaction(async (tx, timed) => {
      await tx.query(
        'CREATE TEMP TABLE timed_seen (how text, t text, a text[], j jsonb, jt text, n int, at timestamptz, o jsonb) ON COMMIT DROP',
      );
      const json = JSON.stringify({ k: 'it\'s "q" \\ ü', n: [1, 2.5, null] });
      const values = [
        'it\'s "q" \\ ü {x,y} NULL',
        ['a"b', 'c\\d', '{e,f}', null, "g'h", '', 'NULL', ' x '],
        json,
        json,
        42,
        new Date('2026-01-02T03:04:05.678Z'),
        { k: 'v "w"', nested: { a: [1, null], s: '\\' } },
      ];
      const insert = (how: string) =>
        `INSERT INTO timed_seen VALUES ('${how}', $1, $2, $3, $4, $5, $6, $7) RETURNING 1 AS inserted`;
      expect((await timed(insert('timed'), values)).rows).toBe(1);
      await tx.query(insert('query'), values);
      const { rows } = await tx.query('SELECT t, a, j, jt, n, at, o FROM timed_seen ORDER BY how DESC');
      const expected = {
        t: values[0],
        a: values[1],
        j: JSON.parse(json),
        jt: json, // the JSON text itself, byte for byte
        n: 42,
        at: values[5],
        o: values[6],
      };
      expect(rows).toEqual([expected, expected]);
    }),
  );

  wire(
    'rejects with the server error, and the connection then serves the next statement rightly, inside and outside a transaction',
    async () => {
      const { db } = current();
      await db.withAdvisoryLock(async (session) => {
        await session.transaction(async (tx) => {
          await tx.query('SAVEPOINT before_errors');
          await expect(tx.timed!('SELECT 1 / $1::int', [0])).rejects.toMatchObject({
            kind: 'invalid-value',
            message: 'A division by zero (SQLSTATE 22012).',
            facts: { sqlstate: '22012' },
          });
          // The same transaction, aborted: the server says so, to the driver's next statement and to the next timed one.
          await expect(tx.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
          await expect(tx.timed!('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
          await tx.query('ROLLBACK TO SAVEPOINT before_errors');
          // An error after the first rows were sent.
          await expect(tx.timed!('SELECT 1 / (3 - g) FROM generate_series(1, 5) g')).rejects.toMatchObject({
            facts: { sqlstate: '22012' },
          });
          await tx.query('ROLLBACK TO SAVEPOINT before_errors');
          expect((await tx.query('SELECT $1::int AS n', [7])).rows).toEqual([{ n: 7 }]);
          expect((await tx.timed!('SELECT generate_series(1, $1::int)', [3])).rows).toBe(3);
        });
        // The transaction a timed statement failed is rolled back; the same connection then runs
        // statements outside any transaction, and times them again.
        await expect(session.transaction((tx) => tx.timed!('SELECT 1 / $1::int', [0]))).rejects.toMatchObject({
          facts: { sqlstate: '22012' },
        });
        // No transaction block was left open: the server refuses a savepoint outside one.
        await expect(session.query('SAVEPOINT outside')).rejects.toMatchObject({ code: '25P01' });
        expect((await session.query('SELECT $1::text AS t', ['next'])).rows).toEqual([{ t: 'next' }]);
        expect((await session.transaction((tx) => tx.timed!('SELECT generate_series(1, 4)'))).rows).toBe(4);
      });
    },
  );

  wire(
    'rejects a statement cancelled by its statement timeout as statement-timeout, as /benchmark recognises it',
    async () => {
      const { db } = current();
      const failure = await db
        .transaction((tx) => tx.timed!('SELECT pg_sleep(2)'), { statementTimeoutMs: 100 })
        .catch((e: unknown) => e);
      expect(failure).toMatchObject({ kind: 'statement-timeout', facts: { sqlstate: '57014' } });
      expect((await db.transaction((tx) => tx.timed!('SELECT 1'))).rows).toBe(1);
    },
  );

  wire('rejects at once on a connection that died while idle, which is then not lent again', async () => {
    const { db } = current();
    let startedAt = 0;
    const timing = db.transaction(async (tx) => {
      await tx.query('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the socket closes meanwhile
      startedAt = performance.now();
      return tx.timed!('SELECT 1');
    });
    await expect(timing).rejects.toMatchObject({ kind: 'database-unavailable' });
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect((await db.transaction((tx) => tx.timed!('SELECT 1'))).rows).toBe(1);
  });

  wire('rejects when the server ends the connection during the statement', async () => {
    const { db, admin } = current();
    let startedAt = 0;
    const timing = db.transaction(async (tx) => {
      const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      setTimeout(() => void admin.query('SELECT pg_terminate_backend($1)', [pid]), 100);
      startedAt = performance.now();
      return tx.timed!('SELECT pg_sleep(5)');
    });
    await expect(timing).rejects.toMatchObject({ kind: 'database-unavailable' });
    expect(performance.now() - startedAt).toBeLessThan(2000);
    expect((await db.transaction((tx) => tx.timed!('SELECT 1'))).rows).toBe(1);
  });

  it.runIf(driver === 'neon')(
    'sends a timed statement at once, not after the Neon driver coalesces writes in a setTimeout(0)',
    async () => {
      const { db } = current();
      await db.transaction(async (tx) => {
        const timers = vi.spyOn(globalThis, 'setTimeout');
        const zeroDelays = () => timers.mock.calls.filter(([, delay]) => !delay).length;
        await tx.query('SELECT 1');
        expect(zeroDelays()).toBe(1); // the driver's own statements still coalesce: the spy sees it
        timers.mockClear();
        expect((await tx.timed!('SELECT $1::int', [1])).rows).toBe(1);
        expect(zeroDelays()).toBe(0);
        await tx.query('SELECT 1');
        expect(zeroDelays()).toBe(1); // and coalesce again afterwards
      });
    },
  );
});
