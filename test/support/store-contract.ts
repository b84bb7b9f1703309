import { describe, expect, it } from 'vitest';
import { newReportId, type ReportId } from '../../src/reports/ids.js';
import type { Report, ReportKind } from '../../src/reports/schemas.js';
import type { ReportStore } from '../../src/reports/store.js';

export function sampleReport(kind: ReportKind, overrides: Partial<Report> = {}): Report {
  const createdAt = new Date().toISOString();
  return {
    id: newReportId(),
    kind,
    status: 'passed',
    createdAt,
    finishedAt: createdAt,
    durationMs: 12,
    actor: 'ci-bot',
    request: { mode: 'full' },
    summary: { checks: 3 },
    ...overrides,
  };
}

/**
 * One contract for every report store (files, R2): runs in Node and inside workerd, so it
 * imports nothing but vitest and the store's own modules.
 */
export function describeReportStoreContract(name: string, makeStore: () => Promise<ReportStore> | ReportStore): void {
  describe(`report store contract [${name}]`, () => {
    it('gives back exactly what was put, and null for an unknown id', async () => {
      const store = await makeStore();
      const report = sampleReport('validation', {
        checks: [{ name: 'schema.tables_exist', passed: true }],
        unicode: 'ü → ✓',
      });
      await store.put(report);
      expect(await store.get(report.id as ReportId)).toEqual(report);
      expect(await store.get(newReportId())).toBeNull();
    });

    it('overwrites a report when it is put again (running, then finished)', async () => {
      const store = await makeStore();
      const running = sampleReport('migration', {
        status: 'running',
        finishedAt: null,
        durationMs: null,
        progress: { done: 1, total: 10, updatedAt: new Date().toISOString() },
      });
      await store.put(running);
      const finished = {
        ...running,
        status: 'succeeded',
        finishedAt: new Date().toISOString(),
        durationMs: 40,
        progress: { done: 10, total: 10, updatedAt: new Date().toISOString() },
      };
      await store.put(finished);
      expect(await store.get(running.id as ReportId)).toEqual(finished);
      const { items } = await store.list({ limit: 100 });
      expect(items.filter((i) => i.id === running.id)).toEqual([
        {
          id: running.id,
          kind: 'migration',
          status: 'succeeded',
          createdAt: running.createdAt,
          finishedAt: finished.finishedAt,
          actor: 'ci-bot',
        },
      ]);
    });

    it('lists newest first, pages with the cursor, and filters by kind', async () => {
      const store = await makeStore();
      const kinds: ReportKind[] = ['validation', 'benchmark', 'validation', 'rollback', 'validation'];
      const made: Report[] = [];
      for (const kind of kinds) {
        const report = sampleReport(kind);
        made.push(report);
        await store.put(report);
      }
      const newestFirst = made.map((r) => r.id).reverse();

      const first = await store.list({ limit: 2 });
      expect(first.items.map((i) => i.id)).toEqual(newestFirst.slice(0, 2));
      expect(first.nextCursor).toBe(newestFirst[1]);
      const second = await store.list({ limit: 2, cursor: first.nextCursor as ReportId });
      expect(second.items.map((i) => i.id)).toEqual(newestFirst.slice(2, 4));

      const validations = made
        .filter((r) => r.kind === 'validation')
        .map((r) => r.id)
        .reverse();
      const byKind = await store.list({ kind: 'validation', limit: 2 });
      expect(byKind.items.map((i) => i.id)).toEqual(validations.slice(0, 2));
      expect(byKind.items.every((i) => i.kind === 'validation')).toBe(true);
      const rest = await store.list({ kind: 'validation', limit: 2, cursor: byKind.nextCursor as ReportId });
      expect(rest.items.map((i) => i.id)).toEqual(validations.slice(2));
    });

    it('answers an empty page with no cursor when nothing is left', async () => {
      const store = await makeStore();
      const report = sampleReport('optimization');
      await store.put(report);
      const page = await store.list({ kind: 'optimization', limit: 100 });
      expect(page.items.map((i) => i.id)).toContain(report.id);
      expect(page.nextCursor).toBeNull();
      await expect(store.check()).resolves.toBeUndefined();
    });
  });
}
