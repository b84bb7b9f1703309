import { expect, it } from 'vitest';
import type { Queryable } from '../src/adapters/db/types.js';
import { ServiceSchemaGate, withServiceSchema } from '../src/db/service-migrations.js';
import { makeTestApp } from './support/app.js';
import { describeEachDatabase } from './support/databases.js';
import { seedV1 } from './support/seed.js';

const ledger = async (db: Queryable) => {
  const exists = await db.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass('sark_migrate.schema_migrations')`);
  if (exists.rows.length === 0) return [];
  return (await db.query<{ tag: string }>('SELECT tag FROM sark_migrate.schema_migrations ORDER BY tag')).rows.map(
    (r) => r.tag,
  );
};

const SERVICE_TAGS = [
  '0001_rollback_archive',
  '0002_rollback_archive_unindexed',
  '0003_rollback_archive_packs',
  '0004_rollback_archive_views',
  '0005_run_lease',
  '0006_run_actor',
];

describeEachDatabase("the service's own schema", (current) => {
  it('is brought up to date at the first use of the database, without the v2 tables, and /health says so', async () => {
    const { db } = current();
    await seedV1(db, { servers: 2, toolsPerServer: 1, withV2: false });
    expect(await ledger(db)).toEqual([]);
    const { call } = await makeTestApp(db);
    const health = await (await call('GET', '/health', { as: 'reader' })).json();
    expect(health.schemas.service).toEqual({ name: 'sark_migrate', current: true, pending: [] });
    expect(await ledger(db)).toEqual(SERVICE_TAGS);
    const { rows } = await db.query<{ archive: boolean; v2: boolean }>(
      `SELECT to_regclass('sark_migrate.archived_resources') IS NOT NULL AS archive, to_regclass('resources') IS NOT NULL AS v2`,
    );
    expect(rows[0]).toEqual({ archive: true, v2: false });
  });

  it('lets reads go on when it cannot be brought up to date, refuses changing runs with 503, and is tried again at the next use', async () => {
    const { db } = current();
    await db.query('DROP SCHEMA IF EXISTS sark_migrate CASCADE');
    // Half of migration 0003's tables already there: it refuses to run (schema-conflict).
    await db.query('CREATE SCHEMA sark_migrate');
    await db.query('CREATE TABLE sark_migrate.archived_resource_packs (x int)');
    const { call } = await makeTestApp(db);

    const health = await (await call('GET', '/health', { as: 'reader' })).json();
    expect(health.schemas.service).toMatchObject({
      current: false,
      pending: ['0003_rollback_archive_packs', '0004_rollback_archive_views', '0005_run_lease', '0006_run_actor'],
    });
    expect((await call('POST', '/validate', { as: 'runner', body: { mode: 'schema' } })).status).toBe(200);
    // A changing run checks the schema itself, and answers why it cannot start.
    const refused = await call('POST', '/migrate', { body: { dryRun: false } });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      type: 'urn:sark-migrate:problem:schema-conflict',
      detail: expect.stringMatching(/sark_migrate.archived_capability_packs/),
    });

    // Reads try again only after a while; a changing run tries at once, and succeeds.
    await db.query('DROP TABLE sark_migrate.archived_resource_packs');
    expect((await (await call('GET', '/health', { as: 'reader' })).json()).schemas.service.current).toBe(false);
    expect((await call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200);
    const healed = await (await call('GET', '/health', { as: 'reader' })).json();
    expect(healed.schemas.service).toEqual({ name: 'sark_migrate', current: true, pending: [] });
  });

  it('is applied once for concurrent first uses, and then known to be current without a query', async () => {
    const { db } = current();
    await db.query('DROP SCHEMA IF EXISTS sark_migrate CASCADE');
    const gate = new ServiceSchemaGate();
    const gated = withServiceSchema(db, gate, 'one');
    await Promise.all(Array.from({ length: 5 }, () => gated.query('SELECT 1')));
    expect(await ledger(db)).toEqual(SERVICE_TAGS);
    expect(gate.isCurrent('one')).toBe(true);
  });
});
