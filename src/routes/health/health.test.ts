import { describe, expect, it } from 'vitest';
import { createPgDatabase } from '../../adapters/db/pg.js';
import type { Database } from '../../adapters/db/types.js';
import { describeEachDatabase } from '../../../test/support/databases.js';
import { makeTestApp } from '../../../test/support/app.js';
import { seedV1 } from '../../../test/support/seed.js';
import { ProbeCache } from '../../operations/probe.js';

/** The same database, counting the statements sent through it. */
function counting(db: Database): Database & { statements: () => number } {
  let statements = 0;
  return {
    ...db,
    query: (text, params) => {
      statements++;
      return db.query(text, params);
    },
    statements: () => statements,
  };
}

describeEachDatabase('GET /health', (current) => {
  it('with a token: database reachable, v1 and v2 present, store ok, no secret', async () => {
    const { db, url } = current();
    await seedV1(db, { servers: 5, toolsPerServer: 2 });
    const { call } = await makeTestApp(db);
    const res = await call('GET', '/health', { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      status: 'ok',
      runtime: 'node',
      check: 'deep',
      database: { reachable: true, driver: current().driver },
      schemas: { v1: true, v2: true, tables: { mcp_servers: true, resources: true, principal_budgets: true } },
      storage: { ok: true },
      checkedAt: expect.any(String),
    });
    expect(body.database.serverVersion).toMatch(/^\d+(\.\d+)?/);
    if (url) {
      const { host, username, pathname } = new URL(url);
      for (const secret of [url, host, `${username}@`, pathname.slice(1)]) expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/postgres(ql)?:\/\/|password/i);
    // A token of any scope gets the deep check.
    expect(await (await call('GET', '/health', { as: 'runner' })).json()).toMatchObject({ check: 'deep' });
  });

  it('probes the database once for a burst of requests, and again once the answer is older than its time to live', async () => {
    const db = counting(current().db);
    const { call, deps } = await makeTestApp(db, { deps: { healthProbe: new ProbeCache(0) } });
    await call('GET', '/health', { as: 'reader' }); // the first use also brings the service's schema up to date
    const before = db.statements();
    await call('GET', '/health', { as: 'reader' });
    const oneProbe = db.statements() - before;
    expect(oneProbe).toBeGreaterThan(0);

    deps.healthProbe = new ProbeCache(60_000);
    const burst = await Promise.all(Array.from({ length: 20 }, () => call('GET', '/health', { as: 'reader' })));
    const bodies = await Promise.all(burst.map((r) => r.json()));
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(bodies.map((b) => b.checkedAt)).size).toBe(1);
    await call('GET', '/health', { as: 'reader' });
    expect(db.statements() - before).toBe(2 * oneProbe); // the uncached one, and one for the burst and after
  });
});

describe('GET /health when the database is unreachable', () => {
  const secretUrl = 'postgres://admin:hunter2@127.0.0.1:9/sark_prod';

  it('answers liveness without a token, touching neither the database nor the store', async () => {
    const db = counting(createPgDatabase({ connectionString: secretUrl, connectionTimeoutMillis: 2000 }));
    const { app } = await makeTestApp(db);
    const res = await app.request('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', runtime: 'node', check: 'liveness' });
    expect(db.statements()).toBe(0);
    await db.close();
  });

  it('answers 503 problem+json saying so to a token holder, with nothing of the connection string', async () => {
    const db = createPgDatabase({ connectionString: secretUrl, connectionTimeoutMillis: 2000 });
    const { call } = await makeTestApp(db);
    const res = await call('GET', '/health', { as: 'reader' });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 503,
      check: 'deep',
      database: { reachable: false, serverVersion: null },
      storage: { ok: true },
    });
    for (const secret of ['hunter2', 'admin', 'sark_prod', '127.0.0.1:9']) expect(text).not.toContain(secret);
    expect((await call('GET', '/health', { as: null, headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    await db.close();
  });
});
