import { PGlite } from '@electric-sql/pglite';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleReport } from '../../../test/support/store-contract.js';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { pgliteDatabase } from '../../adapters/db/pglite.js';
import { newReportId } from '../../reports/ids.js';

// The report endpoints touch only the store; one embedded database is enough for them.
let t: TestApp;
beforeAll(async () => {
  t = await makeTestApp(pgliteDatabase(await PGlite.create()));
});

describe('GET /reports', () => {
  it('lists stored reports newest first, pages with nextCursor and filters by kind', async () => {
    const older = sampleReport('validation');
    const newer = sampleReport('benchmark');
    await t.store.put(older);
    await t.store.put(newer);
    const all = await t.call('GET', '/reports?limit=1', { as: 'reader' });
    expect(all.status).toBe(200);
    const page = await all.json();
    expect(page).toEqual({
      items: [expect.objectContaining({ id: newer.id, kind: 'benchmark', actor: 'ci-bot' })],
      nextCursor: newer.id,
    });
    const next = await (await t.call('GET', `/reports?limit=1&cursor=${page.nextCursor}`, { as: 'reader' })).json();
    expect(next.items.map((i: { id: string }) => i.id)).toEqual([older.id]);
    const validations = await (await t.call('GET', '/reports?kind=validation', { as: 'reader' })).json();
    expect(validations.items.map((i: { kind: string }) => i.kind)).toEqual(['validation']);
  });

  it('names every bad query field in a 400 problem', async () => {
    const res = await t.call('GET', '/reports?kind=nonsense&limit=0&cursor=../../etc&extra=1', { as: 'reader' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = await res.json();
    expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cursor', 'extra', 'kind', 'limit']);
    expect(body.errors.every((e: { in: string }) => e.in === 'query')).toBe(true);
  });
});

describe('GET /reports/{id}', () => {
  it('returns the stored report as it was stored', async () => {
    const report = sampleReport('rollback', { planId: 'abc', summary: { removed: 3 } });
    await t.store.put(report);
    const res = await t.call('GET', `/reports/${report.id}`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(report);
  });

  it('answers 404 problem for an unknown id', async () => {
    const id = newReportId();
    const res = await t.call('GET', `/reports/${id}`, { as: 'reader' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await res.json()).detail).toContain(id);
  });

  it('refuses ids that try to leave the store', async () => {
    for (const path of [
      '/reports/..%2F..%2Fetc%2Fpasswd',
      '/reports/..%2Freports',
      '/reports/%2e%2e',
      '/reports/../../etc/passwd',
    ]) {
      const res = await t.call('GET', path, { as: 'reader' });
      expect([400, 404], path).toContain(res.status);
      expect(res.headers.get('content-type'), path).toBe('application/problem+json');
    }
  });
});
