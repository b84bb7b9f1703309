import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import { newReportId } from '../../src/reports/ids.js';
import { createReportStore } from '../../src/reports/store.js';
import { sampleReport } from '../support/store-contract.js';
import { bearer, fetchWorker, problemOf, workerBindings } from './harness.js';

// Storage is this file's own (one Miniflare per test file), shared by its tests in order.
const { readToken, runToken } = inject('sarkWorkers');

describe('GET /reports on the Worker', () => {
  it('answers 401 problem+json without a token', async () => {
    const response = await fetchWorker('/reports');
    expect(response.headers.get('WWW-Authenticate')).toMatch(/^Bearer /);
    await problemOf(response, 401);
  });

  it('answers 401 for a token it does not know', async () => {
    await problemOf(await fetchWorker('/reports', bearer('smk_not-a-known-token')), 401);
  });

  it('answers 403 for a token without the read scope', async () => {
    const problem = await problemOf(await fetchWorker('/reports', bearer(runToken)), 403);
    expect(problem.detail).toContain('read');
  });

  it('answers 503 problem+json when no API_TOKENS are bound', async () => {
    const { API_TOKENS: _unset, ...bindings } = workerBindings();
    await problemOf(await fetchWorker('/reports', bearer(readToken), bindings), 503);
  });

  it('lists an empty bucket as an empty page', async () => {
    const response = await fetchWorker('/reports', bearer(readToken));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ items: [], nextCursor: null });
  });

  it('rejects a bad query with 400 naming the field', async () => {
    const problem = await problemOf(await fetchWorker('/reports?limit=0', bearer(readToken)), 400);
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'limit', in: 'query' })]));
  });
});

describe('GET /reports/{id} on the Worker', () => {
  const store = () => createReportStore(r2ObjectStore(env.REPORTS));

  it('returns a report the report store wrote into R2, and lists it', async () => {
    const report = sampleReport('validation', { exitCode: 0, checks: [] });
    await store().put(report);

    const response = await fetchWorker(`/reports/${report.id}`, bearer(readToken));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(report);

    const list = await fetchWorker('/reports?kind=validation', bearer(readToken));
    expect(await list.json()).toMatchObject({
      items: [{ id: report.id, kind: 'validation', status: 'passed' }],
      nextCursor: null,
    });
  });

  it('answers 404 problem for an unknown report id', async () => {
    await problemOf(await fetchWorker(`/reports/${newReportId()}`, bearer(readToken)), 404);
  });

  it('needs the read scope for a single report too', async () => {
    await problemOf(await fetchWorker(`/reports/${newReportId()}`), 401);
  });

  it.each(['../x', '..%2Fx', '%2E%2E%2Fx', '..%2F..%2Freports', 'not-an-id', newReportId().toUpperCase()])(
    'never serves %s',
    async (id) => {
      const response = await fetchWorker(`/reports/${id}`, bearer(readToken));
      expect([400, 404]).toContain(response.status);
      await problemOf(response, response.status);
    },
  );
});
