import { describe, expect, it } from 'vitest';
import { databaseTargets } from '../../../test/support/databases.js';
import { checkFidelity } from '../../../test/support/fidelity.js';
import { BORN, BORN_TOOL, cutover, planIdFor, run, snapshot } from '../../../test/support/rollback.js';

for (const target of databaseTargets()) {
  describe(`POST /rollback [${target.driver}]`, () => {
    it('plans without changing anything, then removes only MCP rows of v1 origin, keeps v1 and everything else, archives, and is idempotent', () =>
      cutover(target, async (t, app) => {
        const before = await snapshot(t);
        const plan = await (await app.call('POST', '/rollback', { as: 'runner' })).json();
        expect(plan).toMatchObject({
          kind: 'rollback',
          dryRun: true,
          planId: expect.stringMatching(/^[0-9a-f]{32}$/),
          tables: { resources: { toRemove: 6 }, capabilities: { toRemove: 12 } },
        });
        expect(await snapshot(t)).toEqual(before);

        const done = await run(app, { planId: plan.planId });
        expect(done.tables).toMatchObject({ resources: { removed: 6, remaining: 0 }, capabilities: { removed: 12 } });
        // All of v1 origin: the page range's batch archived its capabilities in one pass.
        expect(done.batches).toMatchObject({ archivedWhole: 2, fellBack: 0 });
        const after = await snapshot(t);
        expect(after).toEqual({ ...before, mcp: 0, capabilities: 1 });
        const archived = await t.db.query<{ r: number; c: number }>(
          `SELECT (SELECT count(*)::int FROM sark_migrate.archived_resources WHERE rollback_id = $1) AS r, (SELECT count(*)::int FROM sark_migrate.archived_capabilities WHERE rollback_id = $1) AS c`,
          [done.archive.rollbackId],
        );
        expect(archived.rows[0]).toEqual({ r: 6, c: 12 });

        const again = await run(app, {});
        expect(again.summary.removed).toBe(0);
        expect(await snapshot(t)).toEqual(after);

        // The archive restores what was removed.
        await t.db.query(
          `INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`,
        );
        await t.db.query(
          `INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`,
        );
        expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });
      }));

    it('rolls back a subset, and refuses a stale plan with 409', () =>
      cutover(target, async (t, app) => {
        const [first] = (
          await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 1`)
        ).rows;
        const plan = await (await app.call('POST', '/rollback', { body: { resourceIds: [first!.id] } })).json();
        await t.db.query(`UPDATE resources SET name = 'renamed meanwhile' WHERE id = $1`, [first!.id]);
        const stale = await app.call('POST', '/rollback', {
          body: { dryRun: false, resourceIds: [first!.id], planId: plan.planId },
        });
        expect(stale.status).toBe(409);
        expect(await stale.json()).toMatchObject({ type: 'urn:sark-migrate:problem:stale-plan' });
        expect((await snapshot(t)).mcp).toBe(6);
        const done = await run(app, { resourceIds: [first!.id] });
        expect(done.tables.resources.removed).toBe(1);
        expect((await snapshot(t)).mcp).toBe(5);
      }));

    it('writes rows born in v2 back into v1, keeps the unrepresentable ones in v2 with the reason', () =>
      cutover(target, async (t, app) => {
        await t.db.query(
          `INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata) VALUES
          ($1, 'born after cutover', 'mcp', 'https://born/rpc', 'high', '{"transport": "http", "tags": ["new"], "team_note": "x"}'),
          ('not-a-uuid', 'born badly', 'mcp', 'https://bad', 'low', '{"transport": "http"}')`,
          [BORN],
        );
        await t.db.query(
          `INSERT INTO capabilities (id, resource_id, name, input_schema, metadata) VALUES ($1, $2, 'born tool', '{"type": "object"}', '{"requires_approval": true}')`,
          [BORN_TOOL, BORN],
        );
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.bornInV2.rows).toEqual(
          expect.arrayContaining([
            { table: 'resources', id: BORN, outcome: 'written back to v1' },
            { table: 'resources', id: 'not-a-uuid', outcome: 'stays in v2', reason: 'its id is not a UUID' },
            { table: 'capabilities', id: BORN_TOOL, outcome: 'written back to v1' },
          ]),
        );
        const done = await run(app, {});
        expect(done.tables.resources).toMatchObject({ writtenBack: 1, remaining: 1 }); // the one that stays
        const server = (
          await t.db.query(
            `SELECT name, transport::text, endpoint, command, sensitivity_level::text, tags, extra_metadata FROM mcp_servers WHERE id = $1`,
            [BORN],
          )
        ).rows[0];
        expect(server).toEqual({
          name: 'born after cutover',
          transport: 'http',
          endpoint: 'https://born/rpc',
          command: null,
          sensitivity_level: 'high',
          tags: ['new'],
          extra_metadata: { team_note: 'x' },
        });
        const tool = (
          await t.db.query(`SELECT server_id::text, name, parameters, requires_approval FROM mcp_tools WHERE id = $1`, [
            BORN_TOOL,
          ])
        ).rows[0];
        expect(tool).toEqual({
          server_id: BORN,
          name: 'born tool',
          parameters: { type: 'object' },
          requires_approval: true,
        });
        const left = await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp'`);
        expect(left.rows).toEqual([{ id: 'not-a-uuid' }]);
      }));

    it("keeps in v2, with PostgreSQL's reason, born rows v1 refuses, and rolls back the rest", () =>
      cutover(target, async (t, app) => {
        const [first, second, long] = [
          '0b0b0b0b-0000-4000-8000-00000000000a',
          '0b0b0b0b-0000-4000-8000-00000000000b',
          '0b0b0b0b-0000-4000-8000-00000000000c',
        ];
        // Two born servers share a consul_id (unique in v1); one has a description over v1's 1,000 characters.
        await t.db.query(
          `INSERT INTO resources (id, name, protocol, endpoint, metadata) VALUES
          ($1, 'first', 'mcp', 'https://a', '{"transport": "http", "consul_id": "shared"}'),
          ($2, 'second', 'mcp', 'https://b', '{"transport": "http", "consul_id": "shared"}'),
          ($3, 'long', 'mcp', 'https://c', jsonb_build_object('transport', 'http', 'description', repeat('x', 1001)))`,
          [first, second, long],
        );
        const done = await run(app, {});
        const outcome = (id: string) => done.bornInV2.rows.find((r: { id: string }) => r.id === id);
        expect(outcome(first)).toEqual({ table: 'resources', id: first, outcome: 'written back to v1' });
        expect(outcome(second)).toMatchObject({
          outcome: 'stays in v2',
          reason: expect.stringMatching(/^v1 refused it: duplicate key value violates unique constraint/),
        });
        expect(outcome(long)).toMatchObject({
          outcome: 'stays in v2',
          reason: 'v1 refused it: a value is too long for its column (SQLSTATE 22001)',
        });
        expect(done.tables.resources).toMatchObject({ removed: 7, writtenBack: 1 }); // the 6 of v1 origin and `first`
        const left = await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id`);
        expect(left.rows).toEqual([{ id: first.replace(/a$/, 'b') }, { id: long }]);
        expect(
          (
            await t.db.query(`SELECT count(*)::int AS n FROM mcp_servers WHERE id = ANY($1::uuid[])`, [
              [first, second, long],
            ])
          ).rows[0],
        ).toEqual({ n: 1 });
      }));

    it('counts every born row even where the listing stops at 1,000', () =>
      cutover(target, async (t, app) => {
        await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint, metadata)
          SELECT 'born-' || g, 'born ' || g, 'mcp', 'https://born', '{"transport": "http"}' FROM generate_series(1, 1001) g`);
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.summary).toMatchObject({ bornInV2: 1001 });
        expect(plan.bornInV2.rows).toHaveLength(1000);
        expect(plan.bornInV2.truncated).toBe(true);
        expect(plan.summary.message).toMatch(/1001 rows born in v2 \(1001 stay in v2\)/);
        const done = await run(app, {});
        expect(done.summary).toMatchObject({ bornInV2: 1001 });
        expect(done.bornInV2).toMatchObject({ truncated: true });
      }));

    it('reports rows changed after cutover as divergent; v1 keeps its values unless backportChanges', () =>
      cutover(target, async (t, app) => {
        const ids = (
          await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 2`)
        ).rows.map((r) => r.id);
        await t.db.query(
          `UPDATE resources SET name = 'renamed in v2', sensitivity_level = CASE sensitivity_level WHEN 'low' THEN 'high' ELSE 'low' END WHERE id = ANY($1::text[])`,
          [ids],
        );
        const wanted = (
          await t.db.query<{ level: string }>(`SELECT sensitivity_level AS level FROM resources WHERE id = $1`, [
            ids[1],
          ])
        ).rows[0]!.level;
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.divergent).toMatchObject({
          listed: true,
          rows: ids.map((id) => ({ table: 'resources', id, fields: ['name', 'sensitivity_level'] })),
        });
        const before = await snapshot(t);
        const kept = await run(app, { resourceIds: [ids[0]] });
        expect((await snapshot(t)).v1_servers).toBe(before.v1_servers); // v1 kept its values
        // Without a backport a run does not compare every field again: the plan listed them.
        expect(kept.divergent).toMatchObject({ rows: [], listed: false, note: expect.stringContaining('dry run') });
        expect(kept.summary.divergent).toBeNull();
        const done = await run(app, { resourceIds: [ids[1]], backportChanges: true });
        expect(done.divergent).toMatchObject({
          listed: true,
          rows: [{ table: 'resources', id: ids[1], fields: ['name', 'sensitivity_level'] }],
        });
        expect(done.tables.resources.backported).toBe(1);
        const server = (
          await t.db.query(`SELECT name, sensitivity_level::text FROM mcp_servers WHERE id::text = $1`, [ids[1]])
        ).rows[0];
        expect(server).toEqual({ name: 'renamed in v2', sensitivity_level: wanted });
      }));

    it('removes orphaned capabilities of v1 origin and reports them', () =>
      cutover(target, async (t, app) => {
        await t.db.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
        const [orphan] = (
          await t.db.query<{ id: string; resource_id: string }>(
            `SELECT c.id, c.resource_id FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE r.protocol = 'mcp' ORDER BY c.id LIMIT 1`,
          )
        ).rows;
        await t.db.query('DELETE FROM capabilities WHERE resource_id = $1 AND id <> $2', [
          orphan!.resource_id,
          orphan!.id,
        ]);
        await t.db.query('DELETE FROM resources WHERE id = $1', [orphan!.resource_id]);
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.tables.capabilities.orphans).toBe(1);
        await run(app, {});
        const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM capabilities WHERE id = $1`, [
          orphan!.id,
        ]);
        expect(rows[0]!.n).toBe(0);
        expect((await snapshot(t)).capabilities).toBe(1); // the HTTP one
      }));

    it('commits whole batches when one fails, changes nothing of that one, and a re-run completes as an uninterrupted run would', () =>
      cutover(
        target,
        async (t, app) => {
          // The last MCP resource in page order lies in the last batch: with one stream, the batches before it commit first.
          const [last] = (
            await t.db.query<{ id: string; transport: string }>(
              `SELECT id, metadata->>'transport' AS transport FROM resources WHERE protocol = 'mcp' ORDER BY ctid DESC LIMIT 1`,
            )
          ).rows;
          // A changed row whose transport was dropped from metadata cannot be backported: its batch fails after others committed.
          await t.db.query(`UPDATE resources SET name = 'changed', metadata = metadata - 'transport' WHERE id = $1`, [
            last!.id,
          ]);
          const before = await snapshot(t);
          const scope = { backportChanges: true, batchSize: 10, parallelism: 1 };
          const body = { ...scope, dryRun: false, planId: await planIdFor(app, scope) };
          // v1 refuses the row (its transport is NOT NULL): a conflict with the data, not a fault of the service.
          const refused = await app.call('POST', '/rollback', { body });
          expect(refused.status).toBe(409);
          expect(await refused.json()).toMatchObject({
            type: 'urn:sark-migrate:problem:constraint-violation',
            sqlstate: '23502',
          });

          const { items } = await (await app.call('GET', '/reports?kind=rollback', { as: 'reader' })).json();
          const failed = await (await app.call('GET', `/reports/${items[0].id}`, { as: 'reader' })).json();
          expect(failed).toMatchObject({
            status: 'failed',
            batches: { committed: expect.any(Number) },
            tables: { resources: { removed: expect.any(Number) } },
          });
          const removed = failed.tables.resources.removed as number;
          expect(failed.batches.committed).toBeGreaterThan(0);
          expect(removed).toBeGreaterThan(0);

          // Committed batches are complete and archived; the failed one changed nothing (v1 too: its backport is undone).
          const split = async () =>
            (
              await t.db.query<Record<string, number>>(`SELECT
                (SELECT count(*)::int FROM resources WHERE protocol = 'mcp') AS resources,
                (SELECT count(*)::int FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE r.protocol = 'mcp') AS capabilities,
                (SELECT count(*)::int FROM sark_migrate.archived_resources) AS archived_resources,
                (SELECT count(DISTINCT id)::int FROM sark_migrate.archived_resources) AS distinct_resources,
                (SELECT count(*)::int FROM sark_migrate.archived_capabilities) AS archived_capabilities,
                (SELECT count(*)::int FROM sark_migrate.archived_capabilities a JOIN sark_migrate.archived_resources r ON r.id = a.resource_id) AS archived_with_resource`)
            ).rows[0]!;
          expect(await split()).toEqual({
            resources: 40 - removed,
            capabilities: 2 * (40 - removed),
            archived_resources: removed,
            distinct_resources: removed,
            archived_capabilities: 2 * removed,
            archived_with_resource: 2 * removed,
          });
          expect(await snapshot(t)).toEqual({
            ...before,
            mcp: 40 - removed,
            capabilities: before.capabilities! - 2 * removed,
          });
          expect(
            (await t.db.query(`SELECT count(*)::int AS n FROM resources WHERE id = $1`, [last!.id])).rows[0],
          ).toEqual({ n: 1 });

          // Without the cause, a re-run removes the rest, and the end state is an uninterrupted run's.
          await t.db.query(
            `UPDATE resources SET metadata = metadata || jsonb_build_object('transport', $2::text) WHERE id = $1`,
            [last!.id, last!.transport],
          );
          const rerun = await run(app, scope); // on a new plan: the failed run changed the database
          expect(rerun.tables).toMatchObject({
            resources: { removed: 40 - removed, backported: 1 },
            capabilities: { removed: 2 * (40 - removed) },
          });
          expect(await split()).toEqual({
            resources: 0,
            capabilities: 0,
            archived_resources: 40,
            distinct_resources: 40,
            archived_capabilities: 80,
            archived_with_resource: 80,
          });
          expect(await snapshot(t)).toMatchObject({
            mcp: 0,
            capabilities: 1,
            servers: before.servers,
            tools: before.tools,
            v1_tools: before.v1_tools,
          });
          expect((await t.db.query(`SELECT name FROM mcp_servers WHERE id::text = $1`, [last!.id])).rows).toEqual([
            { name: 'changed' },
          ]);
          // The two runs' archives restore v2 exactly as v1 now holds it.
          await t.db.query(
            `INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`,
          );
          await t.db.query(
            `INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`,
          );
          expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });
        },
        { servers: 40, toolsPerServer: 2 },
      ));

    it('migrate after rollback after migrate gives the same data, without duplicates', () =>
      cutover(target, async (t, app) => {
        await run(app, {});
        expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200);
        expect(await checkFidelity(t.db, 'orm')).toEqual({
          serverMismatches: [],
          toolMismatches: [],
          resources: 8,
          capabilities: 13,
        });
      }));
  });
}

describe('POST /rollback input and scopes', () => {
  it('rejects bad input naming each field, and needs apply for a real run, changing nothing', () =>
    cutover(databaseTargets()[0]!, async (t, app) => {
      const before = await snapshot(t);
      const bad = await app.call('POST', '/rollback', {
        body: { dryRun: false, planId: 'not-a-plan', resourceIds: [], force: true },
      });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toBe('application/problem+json');
      expect((await bad.json()).errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'force',
        'planId',
        'resourceIds',
      ]);
      const unstorable = await app.call('POST', '/rollback', {
        body: { dryRun: false, resourceIds: ['ok', 'nul\u0000', 'half\uD800'] },
      });
      expect(unstorable.status).toBe(400);
      expect((await unstorable.json()).errors.map((e: { field: string }) => e.field)).toEqual([
        'resourceIds.1',
        'resourceIds.2',
        'planId',
      ]);
      expect((await app.call('POST', '/rollback', { as: 'reader' })).status).toBe(403);
      const planned = { dryRun: false, planId: await planIdFor(app) };
      expect((await app.call('POST', '/rollback', { as: 'runner', body: planned })).status).toBe(403);
      const unplanned = await app.call('POST', '/rollback', { body: { dryRun: false } });
      expect(unplanned.status).toBe(400);
      expect((await unplanned.json()).errors).toEqual([
        { field: 'planId', in: 'body', message: expect.stringContaining('make a dry run, review its plan') },
      ]);
      expect((await app.call('POST', '/rollback', { as: 'runner' })).status).toBe(200);
      expect(await snapshot(t)).toEqual(before);
    }));
});
