import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it, vi } from 'vitest';
import { pgliteDatabase } from '../adapters/db/pglite.js';
import { applyServiceMigrations } from '../db/service-migrations.js';
import { fsObjectStore } from '../adapters/storage/fs.js';
import { databaseUnavailable, lockBusy } from '../errors.js';
import { reportErrorOf } from '../http/problems.js';
import type { AppDeps } from './deps.js';
import type { ReportId } from '../reports/ids.js';
import { createReportStore } from '../reports/store.js';
import { prefersAsync, runOperation, type OperationContext } from './runner.js';

// The runner with a real file store, a PGlite for its run ledger, and operations written inline.
async function deps(): Promise<AppDeps & { background: Promise<unknown>[] }> {
  const background: Promise<unknown>[] = [];
  const db = pgliteDatabase(await PGlite.create());
  await applyServiceMigrations(db);
  return {
    db,
    store: createReportStore(fsObjectStore(await mkdtemp(join(tmpdir(), 'sark-runner-')))),
    progressIntervalMs: 0,
    defer: (task) => void background.push(task),
    background,
  };
}

const run = (respondAsync: boolean) => ({
  kind: 'migration' as const,
  actor: 'ops',
  request: { dryRun: false },
  respondAsync,
  changing: true,
  describeFailure: reportErrorOf,
});

describe('runOperation', () => {
  it('stores the running report before answering 202, rewrites it with progress, then stores the final one', async () => {
    const d = await deps();
    let proceed!: () => void;
    const gate = new Promise<void>((resolve) => (proceed = resolve));
    let reachedGate!: () => void;
    const atGate = new Promise<void>((resolve) => (reachedGate = resolve));
    const result = await runOperation(d, run(true), async (ctx: OperationContext) => {
      ctx.started();
      ctx.progress({ done: 1, total: 3 });
      reachedGate();
      await gate;
      ctx.progress({ done: 3, total: 3 });
      return { status: 'succeeded', summary: { message: 'Copied 3 rows.', copied: 3 }, dryRun: false };
    });
    expect(result.mode).toBe('accepted');
    await atGate;
    await new Promise((r) => setTimeout(r, 20));
    const midway = await d.store.get(result.report.id as ReportId);
    expect(midway).toMatchObject({
      status: 'running',
      actor: 'ops',
      finishedAt: null,
      progress: { done: 1, total: 3 },
    });
    proceed();
    await Promise.all(d.background);
    const final = await d.store.get(result.report.id as ReportId);
    expect(final).toMatchObject({
      status: 'succeeded',
      summary: { copied: 3 },
      dryRun: false,
      progress: { done: 3, total: 3 },
    });
    expect(final!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('answers the problem itself, storing nothing, when the operation fails before it starts (async too)', async () => {
    for (const respondAsync of [false, true]) {
      const d = await deps();
      await expect(runOperation(d, run(respondAsync), async () => Promise.reject(lockBusy()))).rejects.toMatchObject({
        kind: 'lock-busy',
      });
      expect((await d.store.list({ limit: 10 })).items).toEqual([]);
    }
  });

  it('stores a failed report with what was done when the operation fails after it started', async () => {
    const d = await deps();
    const failure = await runOperation(d, run(false), async (ctx) => {
      ctx.started();
      ctx.checkpoint({ tables: { resources: { copied: 2 } } });
      throw databaseUnavailable(new Error('terminating connection due to administrator command'));
    }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ cause: { kind: 'database-unavailable' }, reportId: expect.any(String) });
    const stored = await d.store.get((failure as { reportId: ReportId }).reportId);
    expect(stored).toMatchObject({
      status: 'failed',
      tables: { resources: { copied: 2 } },
      error: { status: 503, title: 'Database unavailable' },
    });
  });
});

describe('runOperation with a report store that fails', () => {
  const ledgerRows = async (d: AppDeps) =>
    (await d.db.query<{ id: string; status: string }>('SELECT id, status FROM sark_migrate.runs')).rows;

  it('refuses to begin, running nothing, when the store does not answer', async () => {
    const d = await deps();
    // A folder whose parent is a file: every listing and write fails (ENOTDIR), even as root.
    const blocked = join(await mkdtemp(join(tmpdir(), 'sark-blocked-')), 'a-file');
    await writeFile(blocked, 'not a folder');
    const broken = { ...d, store: createReportStore(fsObjectStore(join(blocked, 'reports'))) };
    let ran = false;
    const failure = await runOperation(broken, run(true), async () => {
      ran = true;
      return { status: 'succeeded', summary: { message: 'x' } };
    }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ kind: 'store-unavailable', message: expect.stringMatching(/report store/) });
    expect(ran).toBe(false);
    expect(await ledgerRows(d)).toEqual([]);
  });

  it('answers 503 with the outcome when the final report cannot be stored; the work and the ledger stand', async () => {
    const d = await deps();
    const folder = await mkdtemp(join(tmpdir(), 'sark-reports-'));
    const store = createReportStore(fsObjectStore(folder));
    const failure = await runOperation({ ...d, store }, run(false), async (ctx) => {
      ctx.started();
      // The running report is written in the background: let it land first, or its mkdir may
      // bring the folder back after it is removed.
      await vi.waitFor(async () => expect(await store.get(ctx.runId as ReportId)).not.toBeNull());
      // The store's folder goes away mid-run, a file in its place: the final write fails.
      await rm(folder, { recursive: true, force: true });
      await writeFile(folder, 'not a folder');
      return { status: 'succeeded', summary: { message: 'Copied 3 rows.', copied: 3 }, dryRun: false };
    }).catch((e: unknown) => e);
    expect(failure).toMatchObject({
      kind: 'store-unavailable',
      facts: { reportId: expect.any(String), status: 'succeeded', summary: { copied: 3 } },
    });
    const id = (failure as { facts: { reportId: string } }).facts.reportId;
    expect(await ledgerRows(d)).toEqual([{ id, status: 'succeeded' }]);
  });
});

describe('prefersAsync', () => {
  it('reads respond-async among other preferences, case-insensitively', () => {
    expect(prefersAsync('respond-async')).toBe(true);
    expect(prefersAsync('return=minimal, Respond-Async; wait=10')).toBe(true);
    expect(prefersAsync('wait=10')).toBe(false);
    expect(prefersAsync(undefined)).toBe(false);
    expect(prefersAsync('respond-asynchronously')).toBe(false);
  });
});
