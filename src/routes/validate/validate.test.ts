import { describe, expect, it } from 'vitest';
import { makeTestApp } from '../../../test/support/app.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from '../../../test/support/databases.js';
import { migrated as migratedDatabase } from '../../../test/support/migrated.js';
import { runSarkDdl } from '../../../test/support/sark-fixtures.js';
import { seedV1 } from '../../../test/support/seed.js';
import { detachedContext } from '../../operations/runner.js';
import { validate } from '../../operations/validate.js';

interface Check {
  name: string;
  severity: string;
  passed: boolean;
  skipped?: boolean;
  message: string;
  sample: string[];
  details: Record<string, unknown>;
}

/** A v1 database migrated by /migrate, and a way to validate it. */
const migrated = <T>(
  target: DatabaseTarget,
  work: (
    t: TestDatabase,
    validate: (body?: object) => Promise<Record<string, unknown> & { checks: Check[] }>,
  ) => Promise<T>,
) =>
  migratedDatabase(
    target,
    (t, { call }) =>
      work(t, async (body = {}) => {
        const res = await call('POST', '/validate', { as: 'runner', body });
        expect(res.status).toBe(200);
        return res.json();
      }),
    { servers: 8, toolsPerServer: 2, withV2: false },
  );

const check = (report: { checks: Check[] }, name: string) => report.checks.find((c) => c.name === name)!;
const failed = (report: { checks: Check[] }) => report.checks.filter((c) => !c.passed && !c.skipped).map((c) => c.name);
const anId = async (t: TestDatabase, sql: string) => (await t.db.query<{ id: string }>(sql)).rows[0]!.id;

for (const target of databaseTargets()) {
  describe(`POST /validate [${target.driver}]`, () => {
    it('passes a clean migration with exit code 0, every check having looked', () =>
      migrated(target, async (_t, validate) => {
        const report = await validate();
        expect(failed(report)).toEqual([]);
        expect(report).toMatchObject({
          kind: 'validation',
          status: 'passed',
          exitCode: 0,
          mode: 'full',
          v1Shape: 'orm',
        });
        expect(report.checks.map((c) => c.name)).toEqual(
          expect.arrayContaining([
            'schema.tables_exist',
            'schema.columns_exist',
            'schema.indexes_exist',
            'schema.indexes_valid',
            'data.counts_match',
            'data.servers_fidelity',
            'data.tools_fidelity',
            'data.required_fields_present',
            'data.metadata_populated',
            'relationships.capabilities_resource_fk',
            'relationships.cascade_delete_configured',
            'business.sensitivity_levels_valid',
            'business.protocols_recognized',
          ]),
        );
        expect(check(report, 'data.servers_fidelity').details).toMatchObject({
          v1_rows: 8,
          matched: 8,
          missing: 0,
          changed: 0,
        });
        expect(check(report, 'data.tools_fidelity').details).toMatchObject({ v1_rows: 16, matched: 16 });
      }));

    it('counts in words that agree: one capability created in v2 has no v1 tool, two capabilities have none', () =>
      migrated(target, async (t, validate) => {
        const resource = await anId(t, `SELECT id FROM resources ORDER BY id LIMIT 1`);
        const born = (n: number) =>
          t.db.query(`INSERT INTO capabilities (id, resource_id, name) VALUES ($1, $2, 'born in v2')`, [
            `born-${n}`,
            resource,
          ]);
        await born(1);
        expect(check(await validate({ mode: 'data' }), 'data.tools_fidelity')).toMatchObject({
          passed: true,
          message: 'All 16 v1 tools match; 1 capability has no v1 tool (created in v2 after cutover).',
        });
        await born(2);
        expect(check(await validate({ mode: 'data' }), 'data.tools_fidelity').message).toBe(
          'All 16 v1 tools match; 2 capabilities have no v1 tool (created in v2 after cutover).',
        );
      }));

    it('catches a changed name: servers_fidelity, error, exit 1, with the id and the field', () =>
      migrated(target, async (t, validate) => {
        const id = await anId(
          t,
          `UPDATE resources SET name = name || '-renamed' WHERE id = (SELECT min(id) FROM resources) RETURNING id`,
        );
        const report = await validate();
        expect(report).toMatchObject({ status: 'failed', exitCode: 1 });
        expect(failed(report)).toEqual(['data.servers_fidelity']);
        const c = check(report, 'data.servers_fidelity');
        expect(c).toMatchObject({
          severity: 'error',
          sample: [id],
          details: { changed: 1, changedFields: [{ id, fields: ['name'] }] },
        });
      }));

    it('catches a changed metadata value but accepts keys v2 added', () =>
      migrated(target, async (t, validate) => {
        await t.db.query(`UPDATE resources SET metadata = metadata || '{"added_by_v2": true}'`);
        expect((await validate()).exitCode).toBe(0);
        const id = await anId(
          t,
          `UPDATE resources SET metadata = jsonb_set(metadata, '{mcp_version}', '"1999-01-01"') WHERE id = (SELECT max(id) FROM resources) RETURNING id`,
        );
        const c = check(await validate(), 'data.servers_fidelity');
        expect(c).toMatchObject({
          passed: false,
          sample: [id],
          details: { changedFields: [{ id, fields: ['metadata.mcp_version'] }] },
        });
      }));

    it('catches a lost capability: tools_fidelity and counts_match, error, exit 1, with the id', () =>
      migrated(target, async (t, validate) => {
        const id = await anId(t, 'DELETE FROM capabilities WHERE id = (SELECT min(id) FROM capabilities) RETURNING id');
        const report = await validate();
        expect(report.exitCode).toBe(1);
        expect(failed(report).sort()).toEqual(['data.counts_match', 'data.tools_fidelity']);
        expect(check(report, 'data.tools_fidelity')).toMatchObject({
          severity: 'error',
          sample: [id],
          details: { missing: 1, missingIds: [id] },
        });
        expect(check(report, 'data.counts_match').details).toMatchObject({ v1Tools: 16, v2CapabilitiesOfV1Origin: 15 });
      }));

    it('catches an invalid sensitivity level: business rule, error, exit 1', () =>
      migrated(target, async (t, validate) => {
        const id = await anId(
          t,
          `UPDATE capabilities SET sensitivity_level = 'secret' WHERE id = (SELECT min(id) FROM capabilities) RETURNING id`,
        );
        const report = await validate({ mode: 'quick' });
        expect(report).toMatchObject({ mode: 'quick', exitCode: 1 });
        expect(failed(report)).toEqual(['business.sensitivity_levels_valid']);
        expect(check(report, 'business.sensitivity_levels_valid')).toMatchObject({ severity: 'error', sample: [id] });
        expect(report.checks.some((c) => c.name.startsWith('data.'))).toBe(false);
      }));

    it('warns of an unknown protocol without failing: exit 0', () =>
      migrated(target, async (t, validate) => {
        await t.db.query(
          `INSERT INTO resources (id, name, protocol, endpoint) VALUES ('smoke-1', 'a smoke signal api', 'smoke', 'fire://hill')`,
        );
        const report = await validate();
        expect(report).toMatchObject({ status: 'passed', exitCode: 0 });
        expect(check(report, 'business.protocols_recognized')).toMatchObject({
          passed: false,
          severity: 'warning',
          sample: ['smoke-1'],
        });
      }));

    it('warns of a dropped index: schema.indexes_exist, warning, exit 0', () =>
      migrated(target, async (t, validate) => {
        await t.db.query('DROP INDEX ix_capabilities_name');
        const report = await validate({ mode: 'schema' });
        expect(report.exitCode).toBe(0);
        expect(check(report, 'schema.indexes_exist')).toMatchObject({
          passed: false,
          severity: 'warning',
          sample: ['ix_capabilities_name'],
        });
      }));

    it('catches an INVALID index left by a failed concurrent build: error, exit 1', () =>
      migrated(target, async (t, validate) => {
        await t.db.query(`UPDATE capabilities SET name = 'same'`);
        await expect(
          t.db.query('CREATE UNIQUE INDEX CONCURRENTLY ix_capabilities_unique_name ON capabilities (name)'),
        ).rejects.toMatchObject({ kind: 'constraint-violation', facts: { sqlstate: '23505' } });
        const report = await validate({ mode: 'schema' });
        expect(report.exitCode).toBe(1);
        expect(check(report, 'schema.indexes_valid')).toMatchObject({
          passed: false,
          severity: 'error',
          sample: ['ix_capabilities_unique_name'],
        });
      }));

    it('catches orphan capabilities once the key is dropped: critical, exit 2, with the id', () =>
      migrated(target, async (t, validate) => {
        await t.db.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
        const id = await anId(
          t,
          `UPDATE capabilities SET resource_id = 'gone' WHERE id = (SELECT min(id) FROM capabilities) RETURNING id`,
        );
        const report = await validate({ mode: 'relationships' });
        expect(report).toMatchObject({ status: 'critical', exitCode: 2 });
        expect(check(report, 'relationships.capabilities_resource_fk')).toMatchObject({
          severity: 'critical',
          sample: [id],
          details: { orphans: 1 },
        });
        expect(check(report, 'relationships.cascade_delete_configured')).toMatchObject({
          passed: false,
          severity: 'error',
        });
      }));

    it('catches a missing table: critical, exit 2, and skips what needs it instead of failing', () =>
      migrated(target, async (t, validate) => {
        await t.db.query('DROP TABLE cost_tracking');
        const report = await validate();
        expect(report).toMatchObject({ status: 'critical', exitCode: 2 });
        expect(check(report, 'schema.tables_exist')).toMatchObject({
          passed: false,
          severity: 'critical',
          sample: ['cost_tracking'],
        });
        expect(check(report, 'business.cost_tracking_capabilities_known')).toMatchObject({
          skipped: true,
          severity: 'info',
        });
      }));

    it('reports v1-dependent checks as info when v1 is gone (fully cut over), and passes', () =>
      migrated(target, async (t, validate) => {
        await t.db.query('DROP TABLE mcp_tools');
        await t.db.query('DROP TABLE mcp_servers');
        const report = await validate();
        expect(report).toMatchObject({ status: 'passed', exitCode: 0, v1Shape: null });
        for (const name of ['data.counts_match', 'data.servers_fidelity', 'data.tools_fidelity']) {
          expect(check(report, name)).toMatchObject({ skipped: true, severity: 'info', passed: false });
        }
        expect(check(report, 'data.required_fields_present').passed).toBe(true);
      }));
  });
}

describe('POST /validate on a database SARK migrated itself', () => {
  it('passes: no ledger, metadata with only the keys SARK wrote, null values left out', async () => {
    const t = await databaseTargets()[0]!.open();
    try {
      await seedV1(t.db, { servers: 6, toolsPerServer: 2, withV2: false });
      await runSarkDdl(t.db, 'v2_schema.sql');
      // SARK's own copy, written out by hand: its JSON leaves out null keys.
      await t.db
        .query(`INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at)
        SELECT id::text, name, 'mcp', COALESCE(command, endpoint), sensitivity_level::text,
               jsonb_strip_nulls(jsonb_build_object('transport', transport, 'command', command, 'endpoint', endpoint, 'mcp_version', mcp_version,
                 'capabilities', capabilities, 'status', status, 'health_endpoint', health_endpoint, 'last_health_check', last_health_check,
                 'owner_id', owner_id, 'team_id', team_id, 'consul_id', consul_id, 'tags', tags, 'signature', signature, 'description', description)) || extra_metadata,
               created_at, updated_at
          FROM mcp_servers`);
      await t.db
        .query(`INSERT INTO capabilities (id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata)
        SELECT id::text, server_id::text, name, description, parameters, '{}', sensitivity_level::text,
               jsonb_strip_nulls(jsonb_build_object('requires_approval', requires_approval, 'signature', signature,
                 'invocation_count', invocation_count, 'last_invoked', last_invoked)) || extra_metadata
          FROM mcp_tools`);
      const { call } = await makeTestApp(t.db);
      const report = await (await call('POST', '/validate', { as: 'runner' })).json();
      expect(report.checks.filter((c: Check) => !c.passed)).toEqual([]);
      expect(report.exitCode).toBe(0);
      const { rows } = await t.db.query<{ adopted: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM sark_migrate.schema_migrations WHERE tag = '0000_v2_tables') AS adopted`,
      );
      expect(rows[0]!.adopted).toBe(false); // validating wrote nothing: the v2 tables are still SARK's alone
    } finally {
      await t.dispose();
    }
  });

  it('gives up a snapshot held longer than it may, saying so, rather than hold back VACUUM', async () => {
    const t = await databaseTargets()[0]!.open();
    try {
      await seedV1(t.db, { servers: 5, toolsPerServer: 2 });
      const held = validate(t.db, { mode: 'full', sampleSize: 10, snapshotMaxMs: 0 }, detachedContext());
      await expect(held).rejects.toMatchObject({ kind: 'statement-timeout', facts: { snapshotMaxMs: 0 } });
      const within = await validate(t.db, { mode: 'full', sampleSize: 10 }, detachedContext());
      expect(within.checks.length).toBeGreaterThan(10);
    } finally {
      await t.dispose();
    }
  });

  it('rejects a bad mode and an unknown field, naming them', async () => {
    const t = await databaseTargets()[0]!.open();
    try {
      const { call } = await makeTestApp(t.db);
      const res = await call('POST', '/validate', { body: { mode: 'deep', samples: 3 } });
      expect(res.status).toBe(400);
      expect((await res.json()).errors.map((e: { field: string }) => e.field).sort()).toEqual(['mode', 'samples']);
      expect((await call('POST', '/validate', { as: 'reader' })).status).toBe(403);
    } finally {
      await t.dispose();
    }
  });
});
