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
    it('streams an object of unknown length in and out byte for byte, above and below one multipart part', async () => {
      const store = await makeStore();
      // 5 MiB + a bit of incompressible bytes: on R2 a multipart upload of two parts; and an object of a few bytes.
      for (const size of [5 * 1024 * 1024 + 12_345, 3]) {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i += 65_536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65_536)));
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= size) return controller.close();
            const chunk = bytes.slice(sent, Math.min(size, sent + 100_000)); // chunks that straddle the part boundary
            sent += chunk.length;
            controller.enqueue(chunk);
          },
        });
        const key = `archives/${newReportId()}/resources.ndjson.gz`;
        expect(await store.putObject(key, body, { table: 'resources' })).toEqual({ bytes: size });
        const back = await store.getObject(key);
        expect(back).not.toBeNull();
        const read = new Uint8Array(await new Response(back).arrayBuffer());
        expect(read.length).toBe(size);
        expect(read.findIndex((b, i) => b !== bytes[i])).toBe(-1); // the first differing byte: none
      }
      expect(await store.getObject(`archives/${newReportId()}/resources.ndjson.gz`)).toBeNull();
    });

    it('leaves no object when the stream fails half-way', async () => {
      const store = await makeStore();
      const key = `archives/${newReportId()}/capabilities.ndjson.gz`;
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (++pulls > 2) throw new Error('the database went away');
          controller.enqueue(new Uint8Array(1000));
        },
      });
      await expect(store.putObject(key, body, {})).rejects.toThrow(/went away/);
      expect(await store.getObject(key)).toBeNull();
    });
  });
}
