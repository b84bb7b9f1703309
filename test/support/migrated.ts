import { expect } from 'vitest';
import { makeTestApp, type TestApp } from './app.js';
import type { DatabaseTarget, TestDatabase } from './databases.js';
import { seedV1 } from './seed.js';

/** A SARK v1 database migrated through /migrate, on a database of its own, thrown away afterwards. */
export async function migrated<T>(
  target: DatabaseTarget,
  work: (t: TestDatabase, app: TestApp) => Promise<T>,
  seed: Parameters<typeof seedV1>[1] = {},
) {
  const t = await target.open();
  try {
    await seedV1(t.db, seed);
    const app = await makeTestApp(t.db);
    expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200);
    return await work(t, app);
  } finally {
    await t.dispose();
  }
}
