import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyMigrations } from '../src/db/migrate.js';
import { MIGRATIONS } from '../src/db/migrations.bundle.js';
import { createV1Schema } from '../src/demo/generate.js';
import { renderMigrationBundle } from './support/migration-bundle.js';
import { describeEachDatabase, databaseTargets } from './support/databases.js';
import { describeSchema, runSarkDdl } from './support/sark-fixtures.js';

describe('bundled migrations', () => {
  it('match drizzle/ (run `npm run db:generate` after changing src/db/schema.ts)', () => {
    expect(readFileSync(new URL('../src/db/migrations.bundle.ts', import.meta.url), 'utf8')).toBe(
      renderMigrationBundle(),
    );
  });
});

describeEachDatabase("the project's own v1 DDL", (_current, target) => {
  for (const [shape, fixture] of [
    ['orm', 'v1_schema.sql'],
    ['migration', 'v1_schema_migration_shape.sql'],
  ] as const) {
    it(`builds exactly SARK's reference v1 schema in the ${shape} shape`, async () => {
      const [ours, theirs] = [await target.open(), await target.open()];
      try {
        await createV1Schema(ours.db, shape);
        await runSarkDdl(theirs.db, fixture);
        const v1 = ['users', 'teams', 'mcp_servers', 'mcp_tools'];
        const described = await describeSchema(ours.db, v1);
        expect(described.columns.length).toBeGreaterThan(40);
        expect(described).toEqual(await describeSchema(theirs.db, v1));
      } finally {
        await Promise.all([ours.dispose(), theirs.dispose()]);
      }
    });
  }
});

describeEachDatabase('schema migrations', (current, target) => {
  it('create the v2 tables on an empty database, once', async () => {
    const { db } = current();
    const first = await db.withAdvisoryLock((s) => applyMigrations(s));
    expect(first).toEqual([
      { tag: '0000_v2_tables', outcome: 'applied' },
      { tag: '0001_rollback_archive', outcome: 'applied' },
      { tag: '0002_rollback_archive_unindexed', outcome: 'applied' },
      { tag: '0003_rollback_archive_packs', outcome: 'applied' },
      { tag: '0004_rollback_archive_views', outcome: 'applied' },
      { tag: '0005_run_lease', outcome: 'applied' },
      { tag: '0006_run_actor', outcome: 'applied' },
    ]);
    const second = await db.withAdvisoryLock((s) => applyMigrations(s));
    expect(second).toEqual([
      { tag: '0000_v2_tables', outcome: 'already-applied' },
      { tag: '0001_rollback_archive', outcome: 'already-applied' },
      { tag: '0002_rollback_archive_unindexed', outcome: 'already-applied' },
      { tag: '0003_rollback_archive_packs', outcome: 'already-applied' },
      { tag: '0004_rollback_archive_views', outcome: 'already-applied' },
      { tag: '0005_run_lease', outcome: 'already-applied' },
      { tag: '0006_run_actor', outcome: 'already-applied' },
    ]);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL`,
      [['resources', 'capabilities', 'federation_nodes', 'cost_tracking', 'principal_budgets']],
    );
    expect(rows[0]!.n).toBe(5);
  });

  it("build exactly the schema SARK's own migrations build", async () => {
    const ours = current();
    const theirs = await target.open();
    try {
      await runSarkDdl(theirs.db, 'v2_schema.sql');
      const described = await describeSchema(ours.db);
      expect(described.indexes.length).toBeGreaterThan(12);
      expect(described).toEqual(await describeSchema(theirs.db));
    } finally {
      await theirs.dispose();
    }
  });

  it('adopt v2 tables SARK already created, leaving them and their rows alone', async () => {
    const sark = await target.open();
    try {
      await runSarkDdl(sark.db, 'v2_schema.sql');
      await sark.db.query(
        `INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r1', 'kept', 'http', 'https://x')`,
      );
      const before = await describeSchema(sark.db);
      const outcomes = await sark.db.withAdvisoryLock((s) => applyMigrations(s));
      expect(outcomes).toEqual([
        { tag: '0000_v2_tables', outcome: 'adopted' },
        { tag: '0001_rollback_archive', outcome: 'applied' },
        { tag: '0002_rollback_archive_unindexed', outcome: 'applied' },
        { tag: '0003_rollback_archive_packs', outcome: 'applied' },
        { tag: '0004_rollback_archive_views', outcome: 'applied' },
        { tag: '0005_run_lease', outcome: 'applied' },
        { tag: '0006_run_actor', outcome: 'applied' },
      ]);
      expect(await describeSchema(sark.db)).toEqual(before);
      const { rows } = await sark.db.query<{ name: string }>('SELECT name FROM resources');
      expect(rows).toEqual([{ name: 'kept' }]);
    } finally {
      await sark.dispose();
    }
  });

  it("keep every row archived before the archive was packed: the views of the old tables' names read them back", async () => {
    const old = await target.open();
    try {
      const rowForRow = MIGRATIONS.filter((m) => m.tag < '0003');
      expect(rowForRow).toHaveLength(3);
      await old.db.withAdvisoryLock((s) => applyMigrations(s, rowForRow));
      // Two rollbacks archived the old way: 450 capabilities make three packs of the first, one of the second.
      await old.db
        .query(`INSERT INTO sark_migrate.archived_resources (rollback_id, id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at)
        VALUES ('first', 'r1', 'one', 'mcp', 'https://one', 'high', '{"transport": "http"}', '2026-01-02T03:04:05.678901Z', '2026-01-03T00:00:00Z'),
               ('second', 'r2', 'two', 'mcp', 'https://two', 'low', '{}', '2026-02-01T00:00:00Z', '2026-02-02T00:00:00Z')`);
      await old.db
        .query(`INSERT INTO sark_migrate.archived_capabilities (rollback_id, id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata)
        SELECT CASE WHEN g <= 450 THEN 'first' ELSE 'second' END, 'c' || g, CASE WHEN g <= 450 THEN 'r1' ELSE 'r2' END, 'tool ' || g, CASE WHEN g % 2 = 0 THEN 'd' END,
               jsonb_build_object('type', 'object', 'n', g), '{}', 'medium', '{"requires_approval": false}'
          FROM generate_series(1, 451) g`);
      const read = async () =>
        (
          await old.db.query<{ resources: string; capabilities: string }>(`SELECT
            (SELECT string_agg(r::text, '|' ORDER BY r.id) FROM (SELECT rollback_id, id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources) r) AS resources,
            (SELECT string_agg(c::text, '|' ORDER BY c.id) FROM (SELECT rollback_id, id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities) c) AS capabilities`)
        ).rows[0]!;
      const before = await read();
      const outcomes = await old.db.withAdvisoryLock((s) => applyMigrations(s));
      expect(outcomes.slice(3)).toEqual([
        { tag: '0003_rollback_archive_packs', outcome: 'applied' },
        { tag: '0004_rollback_archive_views', outcome: 'applied' },
        { tag: '0005_run_lease', outcome: 'applied' },
        { tag: '0006_run_actor', outcome: 'applied' },
      ]);
      expect(await read()).toEqual(before);
      const packs = await old.db.query(
        `SELECT rollback_id, cardinality(rows)::int AS n FROM sark_migrate.archived_capability_packs ORDER BY rollback_id, n DESC`,
      );
      expect(packs.rows).toEqual([
        { rollback_id: 'first', n: 200 },
        { rollback_id: 'first', n: 200 },
        { rollback_id: 'first', n: 50 },
        { rollback_id: 'second', n: 1 },
      ]);
      const kinds = await old.db
        .query(`SELECT c.relname::text AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'sark_migrate' AND c.relname LIKE 'archived_%' ORDER BY 1`);
      expect(kinds.rows).toEqual([
        { name: 'archived_capabilities', kind: 'v' },
        { name: 'archived_capability', kind: 'c' },
        { name: 'archived_capability_packs', kind: 'r' },
        { name: 'archived_resource', kind: 'c' },
        { name: 'archived_resource_packs', kind: 'r' },
        { name: 'archived_resources', kind: 'v' },
      ]);
    } finally {
      await old.dispose();
    }
  });

  it('refuse a half-present v2 schema with a 409 naming what exists and what is missing, changing nothing', async () => {
    const half = await target.open();
    try {
      await half.db.query(`CREATE TABLE resources (id varchar(255) PRIMARY KEY)`);
      const failure = await half.db.withAdvisoryLock((s) => applyMigrations(s)).catch((e: unknown) => e);
      expect(failure).toMatchObject({ kind: 'schema-conflict', facts: { present: ['resources'] } });
      expect((failure as Error).message).toMatch(/capabilities/);
      const { rows } = await half.db.query<{ present: boolean }>(
        `SELECT to_regclass('capabilities') IS NOT NULL AS present`,
      );
      expect(rows[0]!.present).toBe(false);
      const ledger = await half.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sark_migrate.schema_migrations',
      );
      expect(ledger.rows[0]!.n).toBe(0);
    } finally {
      await half.dispose();
    }
  });

  it('refuse to go on after a migration that was applied from other SQL, changing nothing', async () => {
    const old = await target.open();
    try {
      // 0003 as an earlier version of the service applied it: the packs, but none of its rows moved.
      await old.db.withAdvisoryLock((s) =>
        applyMigrations(
          s,
          MIGRATIONS.filter((m) => m.tag < '0003'),
        ),
      );
      const packs = MIGRATIONS.find((m) => m.tag.startsWith('0003'))!;
      for (const statement of packs.statements.filter((t) => !t.startsWith('INSERT'))) await old.db.query(statement);
      await old.db.query(
        `INSERT INTO sark_migrate.schema_migrations (tag, hash, outcome) VALUES ($1, 'an earlier hash', 'applied')`,
        [packs.tag],
      );
      await old.db
        .query(`INSERT INTO sark_migrate.archived_resources (rollback_id, id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at)
        VALUES ('first', 'r1', 'one', 'mcp', 'https://one', 'high', '{}', now(), now())`);

      const failure = await old.db.withAdvisoryLock((s) => applyMigrations(s)).catch((e: unknown) => e);
      expect(failure).toMatchObject({
        kind: 'schema-conflict',
        facts: { tag: packs.tag, recordedHash: 'an earlier hash', bundledHash: packs.hash },
      });
      expect((failure as Error).message).toMatch(/0004_rollback_archive_views/);
      // The row-for-row table, and its row, are still there for the operator to move.
      const { rows } = await old.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sark_migrate.archived_resources',
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await old.dispose();
    }
  });
});

// Keep the list of targets visible in the test output: PGlite alone means no real-server pass ran.
describe('database targets', () => {
  it('include pg and neon whenever TEST_DATABASE_URL is set', () => {
    const drivers = databaseTargets().map((t) => t.driver);
    expect(drivers).toEqual(process.env.TEST_DATABASE_URL ? ['pglite', 'pg', 'neon'] : ['pglite']);
  });
});
