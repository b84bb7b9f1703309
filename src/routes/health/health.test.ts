import { describe, expect, it } from 'vitest';
import { createPgDatabase } from '../../adapters/db/pg.js';
import { describeEachDatabase } from '../../../test/support/databases.js';
import { makeTestApp } from '../../../test/support/app.js';
import { seedV1 } from '../../../test/support/seed.js';

describeEachDatabase('GET /health', (current) => {
  it('answers without a token: database reachable, v1 and v2 present, store ok, no secret', async () => {
    const { db, url } = current();
    await seedV1(db, { servers: 5, toolsPerServer: 2 });
    const { app } = await makeTestApp(db);
    const res = await app.request('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      status: 'ok',
      runtime: 'node',
      database: { reachable: true, driver: current().driver },
      schemas: { v1: true, v2: true, tables: { mcp_servers: true, resources: true, principal_budgets: true } },
      storage: { ok: true },
    });
    expect(body.database.serverVersion).toMatch(/^\d+(\.\d+)?/);
    if (url) {
      const { host, username, pathname } = new URL(url);
      for (const secret of [url, host, `${username}@`, pathname.slice(1)]) expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/postgres(ql)?:\/\/|password/i);
  });
});

describe('GET /health when the database is unreachable', () => {
  it('answers 503 problem+json saying so, with nothing of the connection string', async () => {
    const secretUrl = 'postgres://admin:hunter2@127.0.0.1:9/sark_prod';
    const db = createPgDatabase({ connectionString: secretUrl, connectionTimeoutMillis: 2000 });
    const { app } = await makeTestApp(db);
    const res = await app.request('/health');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 503,
      database: { reachable: false, serverVersion: null },
      storage: { ok: true },
    });
    for (const secret of ['hunter2', 'admin', 'sark_prod', '127.0.0.1:9']) expect(text).not.toContain(secret);
    await db.close();
  });
});
