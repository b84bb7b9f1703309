import { expect, it } from 'vitest';
import { applyServiceMigrations } from '../src/db/service-migrations.js';
import { Lease } from '../src/operations/lease.js';
import { onceInRun } from '../src/operations/runs.js';
import { newReportId } from '../src/reports/ids.js';
import { describeEachDatabase } from './support/databases.js';

const runId = () => newReportId(Date.now());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The lease every changing run holds (sark_migrate.lease), on each real database target.
describeEachDatabase('the lease', (current) => {
  const setUp = async () => {
    const { db } = current();
    await applyServiceMigrations(db);
    await db.query('DROP TABLE IF EXISTS fenced_writes');
    await db.query('CREATE TABLE fenced_writes (run text)');
    await db.query('UPDATE sark_migrate.lease SET holder = NULL, kind = NULL, expires_at = NULL');
    return db;
  };

  it('is taken by one run at a time: a second gets lock-busy naming the holder, and takes it once released', async () => {
    const db = await setUp();
    const [a, b] = [runId(), runId()];
    const lease = await Lease.take(db, a, 'migration');
    expect(lease.takenOverFrom).toBeNull();
    const refused = await Lease.take(db, b, 'rollback').catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'lock-busy', facts: { holder: a, holderKind: 'migration' } });
    await lease.renew(); // the holder renews freely
    await lease.release();
    const second = await Lease.take(db, b, 'rollback');
    expect(second.takenOverFrom).toBeNull(); // it was free, not taken over
    await second.release();
  });

  it('is taken over once its holder stops renewing; the old holder can then neither renew nor write', async () => {
    const db = await setUp();
    const [dead, alive] = [runId(), runId()];
    const stale = await Lease.take(db, dead, 'migration', 50);
    await stale.fenced((tx) => tx.query('INSERT INTO fenced_writes VALUES ($1)', [dead])); // it writes while it holds it
    await sleep(120);
    const taker = await Lease.take(db, alive, 'migration');
    expect(taker.takenOverFrom).toBe(dead);

    await expect(stale.renew()).rejects.toMatchObject({ kind: 'lease-lost' });
    const refused = await stale
      .fenced((tx) => tx.query('INSERT INTO fenced_writes VALUES ($1)', [dead]))
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'lease-lost', facts: { runId: dead } });
    await taker.fenced((tx) => tx.query('INSERT INTO fenced_writes VALUES ($1)', [alive]));
    const { rows } = await db.query<{ run: string }>('SELECT run FROM fenced_writes ORDER BY run');
    expect(rows.map((r) => r.run).sort()).toEqual([dead, alive].sort()); // the refused write left nothing
    await stale.release(); // releasing a lease it lost frees nothing
    expect(await Lease.take(db, runId(), 'rollback').catch((e: unknown) => e)).toMatchObject({ kind: 'lock-busy' });
    await taker.release();
  });

  it('lets no one take it over while a fenced transaction of its holder writes, even past its expiry', async () => {
    const { db, driver } = current();
    if (driver === 'pglite') return; // one backend: no second transaction can run meanwhile
    await setUp();
    const [slow, next] = [runId(), runId()];
    const lease = await Lease.take(db, slow, 'rollback', 50);
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const writing = lease.fenced(async (tx) => {
      await tx.query('INSERT INTO fenced_writes VALUES ($1)', [slow]);
      inside();
      await gate;
      await tx.query('INSERT INTO fenced_writes VALUES ($1)', [slow]);
    });
    await entered;
    await sleep(120); // expired now, but its transaction holds the lease row FOR KEY SHARE
    let taken = false;
    const taking = Lease.take(db, next, 'migration').then((l) => ((taken = true), l));
    await sleep(300);
    expect(taken).toBe(false); // the take waits for the writer's transaction to end
    finish();
    await writing;
    const taker = await taking;
    expect(taker.takenOverFrom).toBe(slow);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fenced_writes WHERE run = $1', [
      slow,
    ]);
    expect(rows[0]!.n).toBe(2); // the transaction that began under the lease ended whole
    await expect(lease.fenced((tx) => tx.query('SELECT 1'))).rejects.toMatchObject({ kind: 'lease-lost' });
    await taker.release();
  });

  it('gives a step that committed its recorded result when it is tried again (a Workflow retry), doing nothing twice', async () => {
    const db = await setUp();
    const run = { runId: runId(), recordsSteps: true };
    await db.query(
      `INSERT INTO sark_migrate.runs (id, kind, status, changing) VALUES ($1, 'migration', 'running', true)`,
      [run.runId],
    );
    const lease = await Lease.take(db, run.runId, 'migration');
    let worked = 0;
    const step = () =>
      lease.fenced((tx) =>
        onceInRun(tx, run, 'batch 1', async () => {
          worked++;
          await tx.query('INSERT INTO fenced_writes VALUES ($1)', [run.runId]);
          return { copied: 1 };
        }),
      );
    expect(await step()).toEqual({ copied: 1 });
    expect(await step()).toEqual({ copied: 1 }); // the attempt whose answer was lost, tried again
    expect(worked).toBe(1);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fenced_writes');
    expect(rows[0]!.n).toBe(1);
    // A step whose transaction failed left no record: it runs again.
    const failing = lease.fenced((tx) =>
      onceInRun(tx, run, 'batch 2', async () => {
        await tx.query('INSERT INTO fenced_writes VALUES ($1)', [run.runId]);
        throw new Error('the connection was lost');
      }),
    );
    await expect(failing).rejects.toThrow('the connection was lost');
    expect(await lease.fenced((tx) => onceInRun(tx, run, 'batch 2', async () => ({ copied: 2 })))).toEqual({
      copied: 2,
    });
    await lease.release();
  });
});
