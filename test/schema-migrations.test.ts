import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyMigrations } from '../src/db/migrate.js';
import { v1SchemaStatements } from '../src/demo/v1-schema.js';
import { renderMigrationBundle } from './support/migration-bundle.js';
import { describeEachDatabase, databaseTargets } from './support/databases.js';
import { describeSchema, runSarkDdl } from './support/sark-fixtures.js';

describe('bundled migrations', () => {
  it('match drizzle/ (run `npm run db:generate` after changing src/db/schema.ts)', () => {
    expect(readFileSync(new URL('../src/db/migrations.bundle.ts', import.meta.url), 'utf8')).toBe(renderMigrationBundle());
  });
});

describeEachDatabase("the project's own v1 DDL", (_current, target) => {
  for (const [shape, fixture] of [['orm', 'v1_schema.sql'], ['migration', 'v1_schema_migration_shape.sql']] as const) {
    it(`builds exactly SARK's reference v1 schema in the ${shape} shape`, async () => {
      const [ours, theirs] = [await target.open(), await target.open()];
      try {
        for (const statement of v1SchemaStatements(shape)) await ours.db.query(statement);
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
    ]);
    const second = await db.withAdvisoryLock((s) => applyMigrations(s));
    expect(second).toEqual([
      { tag: '0000_v2_tables', outcome: 'already-applied' },
      { tag: '0001_rollback_archive', outcome: 'already-applied' },
      { tag: '0002_rollback_archive_unindexed', outcome: 'already-applied' },
    ]);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL`,
      [['resources', 'capabilities', 'federation_nodes', 'cost_tracking', 'principal_budgets']],
    );
    expect(rows[0]!.n).toBe(5);
  });

  it('build exactly the schema SARK\'s own migrations build', async () => {
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
      await sark.db.query(`INSERT INTO resources (id, name, protocol, endpoint) VALUES ('r1', 'kept', 'http', 'https://x')`);
      const before = await describeSchema(sark.db);
      const outcomes = await sark.db.withAdvisoryLock((s) => applyMigrations(s));
      expect(outcomes).toEqual([
        { tag: '0000_v2_tables', outcome: 'adopted' },
        { tag: '0001_rollback_archive', outcome: 'applied' },
        { tag: '0002_rollback_archive_unindexed', outcome: 'applied' },
      ]);
      expect(await describeSchema(sark.db)).toEqual(before);
      const { rows } = await sark.db.query<{ name: string }>('SELECT name FROM resources');
      expect(rows).toEqual([{ name: 'kept' }]);
    } finally {
      await sark.dispose();
    }
  });

  it('refuse a half-present v2 schema with a 409 naming what exists and what is missing, changing nothing', async () => {
    const half = await target.open();
    try {
      await half.db.query(`CREATE TABLE resources (id varchar(255) PRIMARY KEY)`);
      const failure = await half.db.withAdvisoryLock((s) => applyMigrations(s)).catch((e: unknown) => e);
      expect(failure).toMatchObject({ status: 409, slug: 'schema-conflict', extensions: { present: ['resources'] } });
      expect((failure as Error).message).toMatch(/capabilities/);
      const { rows } = await half.db.query<{ present: boolean }>(`SELECT to_regclass('capabilities') IS NOT NULL AS present`);
      expect(rows[0]!.present).toBe(false);
      const ledger = await half.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sark_migrate.schema_migrations');
      expect(ledger.rows[0]!.n).toBe(0);
    } finally {
      await half.dispose();
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
