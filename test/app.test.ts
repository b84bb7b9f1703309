import { PGlite } from '@electric-sql/pglite';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../src/adapters/db/pglite.js';
import { fsObjectStore } from '../src/adapters/storage/fs.js';
import { MAX_BODY_BYTES, createApp } from '../src/app.js';
import { createReportStore } from '../src/reports/store.js';
import type { Database } from '../src/adapters/db/types.js';
import { makeTestApp, type TestApp } from './support/app.js';

let db: Database;
let t: TestApp;
beforeAll(async () => {
  db = pgliteDatabase(await PGlite.create());
  t = await makeTestApp(db);
});

describe('authentication and scopes', () => {
  it('answers 401 problem with a Bearer challenge when the token is missing, unknown or not a bearer', async () => {
    for (const headers of <Record<string, string>[]>[
      {},
      { Authorization: 'Bearer smk_not-a-real-token' },
      { Authorization: `Basic ${btoa('a:b')}` },
      { Authorization: 'Bearer' },
    ]) {
      const res = await t.app.request('/reports', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('enforces the read scope on reports: 403 problem for run- or apply-only tokens', async () => {
    expect((await t.call('GET', '/reports', { as: 'reader' })).status).toBe(200);
    expect((await t.call('GET', '/reports', { as: 'admin' })).status).toBe(200);
    for (const as of ['runner', 'applier'] as const) {
      const res = await t.call('GET', '/reports', { as });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toContain('insufficient_scope');
      expect((await res.json()).detail).toContain('"read"');
    }
  });

  it('answers 503 problem to every operation when no tokens are configured', async () => {
    const unconfigured = await makeTestApp(db, { tokens: 'none' });
    const res = await unconfigured.call('GET', '/reports', { as: null });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await res.json()).detail).toContain('API_TOKENS');
  });
});

describe('every answer', () => {
  it('carries a request id, echoing a well-formed one the client sent', async () => {
    const mine = await t.app.request('/health', { headers: { 'X-Request-Id': 'chatops-42' } });
    expect(mine.headers.get('x-request-id')).toBe('chatops-42');
    const generated = await t.app.request('/nope');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await generated.json()).requestId).toBe(generated.headers.get('x-request-id'));
  });

  it('carries secure headers', async () => {
    const res = await t.app.request('/openapi.json');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
  });
});

describe('errors', () => {
  it('answers 404 problem for an unknown path', async () => {
    const res = await t.app.request('/no/such/endpoint', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({
      type: 'urn:sark-migrate:problem:not-found',
      status: 404,
      title: 'Not found',
    });
  });

  it('answers 413 problem to a body over 1 MB, declared or streamed', async () => {
    const big = JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) });
    const declared = await t.call('POST', '/reports', { rawBody: big });
    expect(declared.status).toBe(413);
    expect(declared.headers.get('content-type')).toBe('application/problem+json');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const streamed = await t.app.request('/reports', {
      method: 'POST',
      body: stream,
      headers: { 'Content-Type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('answers 500 problem without internals when something breaks unexpectedly', async () => {
    // A real store on a path that is a file, not a folder: the filesystem error names the path.
    const file = join(tmpdir(), `sark-not-a-folder-${Date.now()}`);
    await writeFile(file, 'x');
    const deps = { ...t.deps, store: createReportStore(fsObjectStore(file)) };
    const broken = createApp({ acquire: () => ({ deps, tokens: t.entries, runtime: 'node' }) });
    const res = await broken.request('/reports', { headers: { Authorization: `Bearer ${t.tokens.reader}` } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(text).not.toContain(file);
    expect(text).not.toMatch(/ENOTDIR|at .*\.ts:\d+/);
    expect(JSON.parse(text).detail).toContain(res.headers.get('x-request-id'));
  });
});

describe('GET /openapi.json and /docs', () => {
  it('publish the OpenAPI 3.1 document and an interactive reference without a token', async () => {
    const doc = await (await t.app.request('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/reports', '/reports/{id}']));
    const docs = await t.app.request('/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
    const html = await docs.text();
    expect(html).toContain('/openapi.json');
    // Everything from this service: the reference's script from the installed package, no CDN, no font host.
    expect(html).toContain('<script src="/docs/api-reference.js"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await t.app.request('/docs/api-reference.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const body = await script.text();
    expect(body.length).toBeGreaterThan(1_000_000);
    expect(body).toContain('createApiReference');
  });
});
