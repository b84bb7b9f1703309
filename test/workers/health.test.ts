import { describe, expect, inject, it } from 'vitest';
import { bearer, fetchWorker, problemOf, workerBindings } from './harness.js';

const provided = inject('sarkWorkers');
const withToken = bearer(provided.readToken);

describe('GET /health on the Worker', () => {
  it('answers liveness without a token, opening no connection (the database is down here)', async () => {
    const down = `postgres://postgres:postgres@127.0.0.1:${provided.closedPort}/postgres`;
    const response = await fetchWorker('/health', {}, workerBindings({ DATABASE_URL: down }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', runtime: 'workers', check: 'liveness' });
  });

  it('reaches the database through the Neon driver and the bucket through R2, with a token', async () => {
    const response = await fetchWorker('/health', withToken);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const health = JSON.parse(text);
    expect(health).toMatchObject({
      status: 'ok',
      runtime: 'workers',
      check: 'deep',
      database: { reachable: true, driver: 'neon', serverVersion: expect.stringMatching(/^\d+/) },
      schemas: { v1: true, v2: true },
      storage: { ok: true },
    });
  });

  it('shows neither the connection string nor its credentials', async () => {
    const response = await fetchWorker('/health', withToken);
    const text = await response.text();
    const url = new URL(provided.databaseUrl);
    expect(text).not.toContain('postgres://');
    expect(text).not.toContain(provided.databaseUrl);
    expect(text).not.toContain(`${url.host}`);
    if (url.password) expect(text).not.toContain(`:${url.password}@`);
  });

  it('answers 503 problem+json when the database does not answer', async () => {
    const down = `postgres://postgres:postgres@127.0.0.1:${provided.closedPort}/postgres`;
    const response = await fetchWorker('/health', withToken, workerBindings({ DATABASE_URL: down }));
    const problem = await problemOf(response, 503);
    expect(problem).toMatchObject({ database: { reachable: false, driver: 'neon' }, storage: { ok: true } });
    expect(JSON.stringify(problem)).not.toContain('postgres://');
  });

  it('answers 503 problem+json when no database is configured', async () => {
    const { DATABASE_URL: _unset, ...bindings } = workerBindings();
    const problem = await problemOf(await fetchWorker('/health', withToken, bindings), 503);
    expect(problem).toMatchObject({ database: { reachable: false } });
  });
});

describe('GET /openapi.json on the Worker', () => {
  it('publishes the OpenAPI 3.1 document', async () => {
    const response = await fetchWorker('/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/health', '/reports', '/reports/{id}']));
  });

  it('answers an unknown path with a 404 problem', async () => {
    await problemOf(await fetchWorker('/no/such/endpoint'), 404);
  });
});

describe('a Worker with a malformed secret', () => {
  it('answers 503 problem naming the variable, never its value', async () => {
    const { readToken } = inject('sarkWorkers');
    const bindings = workerBindings({ API_TOKENS: '[{"name":"x","sha256":"not-hex-s3cr3t","scopes":["read"]}]' });
    const response = await fetchWorker('/reports', { headers: { Authorization: `Bearer ${readToken}` } }, bindings);
    const text = await response.clone().text();
    const problem = await problemOf(response, 503);
    expect(problem.detail).toContain('API_TOKENS');
    expect(text).not.toContain('s3cr3t');
  });
});
