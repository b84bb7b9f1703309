import { describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from '../../../test/support/databases.js';
import { checkFidelity } from '../../../test/support/fidelity.js';
import { seedV1 } from '../../../test/support/seed.js';

const BORN = '0b0b0b0b-0000-4000-8000-000000000001';
const BORN_TOOL = '0b0b0b0b-0000-4000-8000-000000000002';

/** Migrated v1 (6 servers × 2 tools unless told) plus v2-only rows: an HTTP resource with a capability, cost, federation and budget rows. */
async function cutover<T>(target: DatabaseTarget, work: (t: TestDatabase, app: TestApp) => Promise<T>, size = { servers: 6, toolsPerServer: 2 }) {
  const t = await target.open();
  try {
    await seedV1(t.db, size);
    const app = await makeTestApp(t.db);
    expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200);
    await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint) VALUES ('http-1', 'billing api', 'http', 'https://billing'), ('grpc-1', 'ledger', 'grpc', 'grpc://ledger')`);
    await t.db.query(`INSERT INTO capabilities (id, resource_id, name) VALUES ('http-1-get', 'http-1', 'get invoice')`);
    await t.db.query(`INSERT INTO cost_tracking (principal_id, resource_id, capability_id, estimated_cost) SELECT 'alice', resource_id, id, 0.5 FROM capabilities`);
    await t.db.query(`INSERT INTO federation_nodes (id, node_id, name, endpoint, trust_anchor_cert) VALUES (gen_random_uuid(), 'n1', 'peer', 'https://peer', 'cert')`);
    await t.db.query(`INSERT INTO principal_budgets (principal_id, daily_budget) VALUES ('alice', 10)`);
    return await work(t, app);
  } finally {
    await t.dispose();
  }
}

const snapshot = async (t: TestDatabase) =>
  (
    await t.db.query<Record<string, number>>(`SELECT
      (SELECT count(*)::int FROM mcp_servers) AS servers, (SELECT count(*)::int FROM mcp_tools) AS tools,
      (SELECT count(*)::int FROM resources WHERE protocol = 'mcp') AS mcp, (SELECT count(*)::int FROM resources WHERE protocol <> 'mcp') AS other,
      (SELECT count(*)::int FROM capabilities) AS capabilities, (SELECT count(*)::int FROM cost_tracking) AS costs,
      (SELECT count(*)::int FROM federation_nodes) AS nodes, (SELECT count(*)::int FROM principal_budgets) AS budgets,
      (SELECT md5(string_agg(s::text, ',' ORDER BY s.id)) FROM mcp_servers s) AS v1_servers,
      (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM mcp_tools t) AS v1_tools`)
  ).rows[0]!;

const run = async (app: TestApp, body: object) => {
  const res = await app.call('POST', '/rollback', { body: { dryRun: false, ...body } });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
};

for (const target of databaseTargets()) {
  describe(`POST /rollback [${target.driver}]`, () => {
    it('plans without changing anything, then removes only MCP rows of v1 origin, keeps v1 and everything else, archives, and is idempotent', () =>
      cutover(target, async (t, app) => {
        const before = await snapshot(t);
        const plan = await (await app.call('POST', '/rollback', { as: 'runner' })).json();
        expect(plan).toMatchObject({ kind: 'rollback', dryRun: true, planId: expect.stringMatching(/^[0-9a-f]{32}$/), tables: { resources: { toRemove: 6 }, capabilities: { toRemove: 12 } } });
        expect(await snapshot(t)).toEqual(before);

        const done = await run(app, { planId: plan.planId });
        expect(done.tables).toMatchObject({ resources: { removed: 6 }, capabilities: { removed: 12 } });
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
        await t.db.query(`INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`);
        await t.db.query(`INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`);
        expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });
      }));

    it('rolls back a subset, and refuses a stale plan with 409', () =>
      cutover(target, async (t, app) => {
        const [first] = (await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 1`)).rows;
        const plan = await (await app.call('POST', '/rollback', { body: { resourceIds: [first!.id] } })).json();
        await t.db.query(`UPDATE resources SET name = 'renamed meanwhile' WHERE id = $1`, [first!.id]);
        const stale = await app.call('POST', '/rollback', { body: { dryRun: false, resourceIds: [first!.id], planId: plan.planId } });
        expect(stale.status).toBe(409);
        expect(await stale.json()).toMatchObject({ type: 'urn:sark-migrate:problem:stale-plan' });
        expect((await snapshot(t)).mcp).toBe(6);
        const done = await run(app, { resourceIds: [first!.id] });
        expect(done.tables.resources.removed).toBe(1);
        expect((await snapshot(t)).mcp).toBe(5);
      }));

    it('writes rows born in v2 back into v1, keeps the unrepresentable ones in v2 with the reason', () =>
      cutover(target, async (t, app) => {
        await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level, metadata) VALUES
          ($1, 'born after cutover', 'mcp', 'https://born/rpc', 'high', '{"transport": "http", "tags": ["new"], "team_note": "x"}'),
          ('not-a-uuid', 'born badly', 'mcp', 'https://bad', 'low', '{"transport": "http"}')`, [BORN]);
        await t.db.query(`INSERT INTO capabilities (id, resource_id, name, input_schema, metadata) VALUES ($1, $2, 'born tool', '{"type": "object"}', '{"requires_approval": true}')`, [BORN_TOOL, BORN]);
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.bornInV2.rows).toEqual(
          expect.arrayContaining([
            { table: 'resources', id: BORN, outcome: 'written back to v1' },
            { table: 'resources', id: 'not-a-uuid', outcome: 'stays in v2', reason: 'its id is not a UUID' },
            { table: 'capabilities', id: BORN_TOOL, outcome: 'written back to v1' },
          ]),
        );
        await run(app, {});
        const server = (await t.db.query(`SELECT name, transport::text, endpoint, command, sensitivity_level::text, tags, extra_metadata FROM mcp_servers WHERE id = $1`, [BORN])).rows[0];
        expect(server).toEqual({ name: 'born after cutover', transport: 'http', endpoint: 'https://born/rpc', command: null, sensitivity_level: 'high', tags: ['new'], extra_metadata: { team_note: 'x' } });
        const tool = (await t.db.query(`SELECT server_id::text, name, parameters, requires_approval FROM mcp_tools WHERE id = $1`, [BORN_TOOL])).rows[0];
        expect(tool).toEqual({ server_id: BORN, name: 'born tool', parameters: { type: 'object' }, requires_approval: true });
        const left = await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp'`);
        expect(left.rows).toEqual([{ id: 'not-a-uuid' }]);
      }));

    it('keeps in v2, with PostgreSQL\'s reason, born rows v1 refuses, and rolls back the rest', () =>
      cutover(target, async (t, app) => {
        const [first, second, long] = ['0b0b0b0b-0000-4000-8000-00000000000a', '0b0b0b0b-0000-4000-8000-00000000000b', '0b0b0b0b-0000-4000-8000-00000000000c'];
        // Two born servers share a consul_id (unique in v1); one has a description over v1's 1,000 characters.
        await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint, metadata) VALUES
          ($1, 'first', 'mcp', 'https://a', '{"transport": "http", "consul_id": "shared"}'),
          ($2, 'second', 'mcp', 'https://b', '{"transport": "http", "consul_id": "shared"}'),
          ($3, 'long', 'mcp', 'https://c', jsonb_build_object('transport', 'http', 'description', repeat('x', 1001)))`, [first, second, long]);
        const done = await run(app, {});
        const outcome = (id: string) => done.bornInV2.rows.find((r: { id: string }) => r.id === id);
        expect(outcome(first)).toEqual({ table: 'resources', id: first, outcome: 'written back to v1' });
        expect(outcome(second)).toMatchObject({ outcome: 'stays in v2', reason: expect.stringMatching(/^v1 refused it: duplicate key value violates unique constraint/) });
        expect(outcome(long)).toMatchObject({ outcome: 'stays in v2', reason: expect.stringMatching(/^v1 refused it: value too long/) });
        expect(done.tables.resources).toMatchObject({ removed: 7, writtenBack: 1 }); // the 6 of v1 origin and `first`
        const left = await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id`);
        expect(left.rows).toEqual([{ id: first.replace(/a$/, 'b') }, { id: long }]);
        expect((await t.db.query(`SELECT count(*)::int AS n FROM mcp_servers WHERE id = ANY($1::uuid[])`, [[first, second, long]])).rows[0]).toEqual({ n: 1 });
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
        const ids = (await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 2`)).rows.map((r) => r.id);
        await t.db.query(`UPDATE resources SET name = 'renamed in v2', sensitivity_level = CASE sensitivity_level WHEN 'low' THEN 'high' ELSE 'low' END WHERE id = ANY($1::text[])`, [ids]);
        const wanted = (await t.db.query<{ level: string }>(`SELECT sensitivity_level AS level FROM resources WHERE id = $1`, [ids[1]])).rows[0]!.level;
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.divergent).toMatchObject({ listed: true, rows: ids.map((id) => ({ table: 'resources', id, fields: ['name', 'sensitivity_level'] })) });
        const before = await snapshot(t);
        const kept = await run(app, { resourceIds: [ids[0]] });
        expect((await snapshot(t)).v1_servers).toBe(before.v1_servers); // v1 kept its values
        // Without a backport a run does not compare every field again: the plan listed them.
        expect(kept.divergent).toMatchObject({ rows: [], listed: false, note: expect.stringContaining('dry run') });
        expect(kept.summary.divergent).toBeNull();
        const done = await run(app, { resourceIds: [ids[1]], backportChanges: true });
        expect(done.divergent).toMatchObject({ listed: true, rows: [{ table: 'resources', id: ids[1], fields: ['name', 'sensitivity_level'] }] });
        expect(done.tables.resources.backported).toBe(1);
        const server = (await t.db.query(`SELECT name, sensitivity_level::text FROM mcp_servers WHERE id::text = $1`, [ids[1]])).rows[0];
        expect(server).toEqual({ name: 'renamed in v2', sensitivity_level: wanted });
      }));

    it('backports only the fields changed in v2: every other v1 column keeps its value, even one the inverse mapping would not give back', () =>
      cutover(target, async (t, app) => {
        const [server, shadowing] = (await t.db.query<{ id: string }>(`SELECT id::text FROM mcp_servers ORDER BY id LIMIT 2`)).rows.map((r) => r.id);
        const [tool] = (await t.db.query<{ id: string }>(`SELECT id::text FROM mcp_tools WHERE server_id = $1::uuid ORDER BY id LIMIT 1`, [server])).rows.map((r) => r.id);
        // A stdio server without a command, and mapped keys the merge columns shadow: backwards, the mapping gives none of them back.
        await t.db.query(`UPDATE mcp_servers SET transport = 'stdio', command = NULL, endpoint = 'https://stdio-without-command', description = 'the column',
          extra_metadata = extra_metadata || '{"description": "the shadow"}' WHERE id = ANY($1::uuid[])`, [[server, shadowing]]);
        await t.db.query(`UPDATE mcp_tools SET requires_approval = false, extra_metadata = extra_metadata || '{"requires_approval": "yes"}' WHERE id = $1::uuid`, [tool]);
        await t.db.query('DELETE FROM capabilities WHERE resource_id = ANY($1::text[])', [[server, shadowing]]);
        await t.db.query('DELETE FROM resources WHERE id = ANY($1::text[])', [[server, shadowing]]);
        expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200); // v2 as SARK's mapping writes these rows
        await t.db.query(`UPDATE resources SET name = 'renamed in v2' WHERE id = $1`, [server]);
        await t.db.query(`UPDATE capabilities SET name = 'renamed in v2' WHERE id = $1`, [tool]);
        await t.db.query(`UPDATE resources SET metadata = metadata || '{"description": "changed in v2"}' WHERE id = $1`, [shadowing]);
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.divergent.rows).toEqual(
          expect.arrayContaining([
            { table: 'resources', id: server, fields: ['name'] },
            { table: 'resources', id: shadowing, fields: ['metadata (extra_metadata)'] },
            { table: 'capabilities', id: tool, fields: ['name'] },
          ]),
        );
        expect(plan.divergent.rows).toHaveLength(3);
        const v1 = async (id: string) => (await t.db.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(s) AS row FROM mcp_servers s WHERE id = $1::uuid`, [id])).rows[0]!.row;
        const v1Tool = async () => (await t.db.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) AS row FROM mcp_tools t WHERE id = $1::uuid`, [tool])).rows[0]!.row;
        const before = { server: await v1(server!), shadowing: await v1(shadowing!), tool: await v1Tool() };
        const done = await run(app, { backportChanges: true });
        expect(done.tables).toMatchObject({ resources: { backported: 2 }, capabilities: { backported: 1 } });
        expect(await v1(server!)).toEqual({ ...before.server, name: 'renamed in v2' });
        expect(await v1Tool()).toEqual({ ...before.tool, name: 'renamed in v2', updated_at: expect.any(String) }); // a backported tool records when
        // The changed key stays in the merge column, which wins over the description column forwards.
        expect(await v1(shadowing!)).toEqual({ ...before.shadowing, extra_metadata: { ...(before.shadowing.extra_metadata as object), description: 'changed in v2' } });
        // The archive, put back, is v2 exactly as v1 now maps (the test oracle knows no shadowed keys: the plan's compare decides).
        await t.db.query(`INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`);
        await t.db.query(`INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`);
        expect((await (await app.call('POST', '/rollback', {})).json()).divergent.rows).toEqual([]);
      }));

    it('classifies the same in the plan and in the run a resource and a capability whose ids spell their v1 uuid in upper case', () =>
      cutover(target, async (t, app) => {
        const [lower] = (await t.db.query<{ id: string }>(`SELECT id::text FROM mcp_servers WHERE consul_id IS NULL ORDER BY id LIMIT 1`)).rows.map((r) => r.id);
        const upper = lower!.toUpperCase();
        await t.db.query(`INSERT INTO resources SELECT upper(id), 'renamed in v2', protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM resources WHERE id = $1`, [lower]);
        await t.db.query('UPDATE capabilities SET resource_id = $2 WHERE resource_id = $1', [lower, upper]);
        await t.db.query('DELETE FROM resources WHERE id = $1', [lower]);
        const [tool] = (await t.db.query<{ id: string }>(`UPDATE capabilities SET id = upper(id) WHERE id = (SELECT min(id) FROM capabilities WHERE resource_id = $1) RETURNING id`, [upper])).rows.map((r) => r.id);
        const plan = await (await app.call('POST', '/rollback', { body: { backportChanges: true } })).json();
        expect(plan.tables.resources).toEqual({ inScope: 6, v1Origin: 6, toRemove: 6 });
        expect(plan.summary.bornInV2).toBe(0);
        const byId = (rows: { table: string; id: string }[]) => [...rows].sort((a, b) => a.table.localeCompare(b.table) || a.id.localeCompare(b.id));
        const divergent = byId(plan.divergent.rows);
        expect(divergent).toEqual(expect.arrayContaining([{ table: 'resources', id: upper, fields: ['name'] }, { table: 'capabilities', id: tool, fields: ['resource_id'] }]));
        const done = await run(app, { planId: plan.planId, backportChanges: true });
        expect(done.summary).toMatchObject({ bornInV2: 0, divergent: plan.summary.divergent, removed: plan.summary.removed });
        expect(byId(done.divergent.rows)).toEqual(divergent);
        expect(done.tables).toMatchObject({ resources: { removed: 6, writtenBack: 0 }, capabilities: { removed: 12, writtenBack: 0 } });
      }));

    // Another session is needed: PGlite has one.
    it.skipIf(target.driver === 'pglite')('with backportChanges, a capability another session updates during the batch waits for it: v1 and the archive agree', () =>
      cutover(target, async (t, app) => {
        const [tool] = (await t.db.query<{ id: string }>(`SELECT id FROM capabilities WHERE resource_id <> 'http-1' ORDER BY id LIMIT 1`)).rows.map((r) => r.id);
        await t.db.query(`UPDATE capabilities SET name = 'changed in v2' WHERE id = $1`, [tool]);
        // The batch stops after its backport of tools, on an advisory lock the gate holds, until the test opens it.
        await t.db.query(`CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`);
        await t.db.query('CREATE TRIGGER pause AFTER UPDATE ON mcp_tools FOR EACH STATEMENT EXECUTE FUNCTION pause()');
        const [gate, writer] = [await t.connect!(), await t.connect!()];
        try {
          const until = async (holds: () => Promise<boolean>) => {
            for (const deadline = Date.now() + 10_000; !(await holds()); await new Promise((resolve) => setTimeout(resolve, 20))) {
              if (Date.now() > deadline) throw new Error('timed out');
            }
          };
          await gate.query('SELECT pg_advisory_lock(4242)');
          const running = run(app, { backportChanges: true });
          await until(async () => (await gate.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`)).rows[0]!.n === 1);
          const [{ pid }] = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
          let wrote = false;
          const writing = writer.query(`UPDATE capabilities SET name = 'changed meanwhile' WHERE id = $1`, [tool]).then((r) => ((wrote = true), r));
          // The update lands at once where nothing locks the row; otherwise it waits for the batch.
          await until(async () => wrote || (await gate.query<{ w: string | null }>('SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.w === 'Lock');
          await gate.query('SELECT pg_advisory_unlock(4242)');
          await running;
          const names = await t.db.query(`SELECT (SELECT name FROM mcp_tools WHERE id::text = $1) AS v1, (SELECT name FROM sark_migrate.archived_capabilities WHERE id = $1) AS archived`, [tool]);
          expect(names.rows[0]).toEqual({ v1: 'changed in v2', archived: 'changed in v2' });
          expect((await writing).rowCount).toBe(0); // it waited, then found the capability gone
        } finally {
          await gate.close();
          await writer.close();
        }
      }));

    it('removes orphaned capabilities of v1 origin and reports them', () =>
      cutover(target, async (t, app) => {
        await t.db.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
        const [orphan] = (await t.db.query<{ id: string; resource_id: string }>(`SELECT c.id, c.resource_id FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE r.protocol = 'mcp' ORDER BY c.id LIMIT 1`)).rows;
        await t.db.query('DELETE FROM capabilities WHERE resource_id = $1 AND id <> $2', [orphan!.resource_id, orphan!.id]);
        await t.db.query('DELETE FROM resources WHERE id = $1', [orphan!.resource_id]);
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.tables.capabilities.orphans).toBe(1);
        await run(app, {});
        const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM capabilities WHERE id = $1`, [orphan!.id]);
        expect(rows[0]!.n).toBe(0);
        expect((await snapshot(t)).capabilities).toBe(1); // the HTTP one
      }));

    it('without the foreign key deletes only the capabilities it classified: one added meanwhile stays until a later batch writes it back', () =>
      cutover(target, async (t, app) => {
        await t.db.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
        await t.db.query(`INSERT INTO resources (id, name, protocol, endpoint, metadata) VALUES ($1, 'born', 'mcp', 'https://born', '{"transport": "http"}')`, [BORN]);
        // A writer adds a capability to the born resource after its batch classified capabilities and before the delete: when it is written back to v1.
        await t.db.query(`CREATE FUNCTION add_capability() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          INSERT INTO capabilities (id, resource_id, name) VALUES ('${BORN_TOOL}', NEW.id::text, 'added meanwhile'); RETURN NEW; END $$`);
        await t.db.query('CREATE TRIGGER add_capability AFTER INSERT ON mcp_servers FOR EACH ROW EXECUTE FUNCTION add_capability()');
        const done = await run(app, {});
        expect(done.tables).toMatchObject({ resources: { removed: 7, writtenBack: 1 }, capabilities: { removed: 13, writtenBack: 1 } });
        expect((await t.db.query('SELECT server_id::text, name FROM mcp_tools WHERE id = $1', [BORN_TOOL])).rows).toEqual([{ server_id: BORN, name: 'added meanwhile' }]);
        expect(await snapshot(t)).toMatchObject({ mcp: 0, capabilities: 1 });
        const archived = await t.db.query(`SELECT count(*)::int AS n FROM sark_migrate.archived_capabilities WHERE id = $1`, [BORN_TOOL]);
        expect(archived.rows).toEqual([{ n: 1 }]);
      }));

    it('commits whole batches when one fails, changes nothing of that one, and a re-run completes as an uninterrupted run would', () =>
      cutover(
        target,
        async (t, app) => {
          // The last MCP resource in page order lies in the last batch: with one stream, the batches before it commit first.
          const [last] = (await t.db.query<{ id: string; transport: string }>(`SELECT id, metadata->>'transport' AS transport FROM resources WHERE protocol = 'mcp' ORDER BY ctid DESC LIMIT 1`)).rows;
          // A changed row whose transport was dropped from metadata cannot be backported: its batch fails after others committed.
          await t.db.query(`UPDATE resources SET name = 'changed', metadata = metadata - 'transport' WHERE id = $1`, [last!.id]);
          const before = await snapshot(t);
          const body = { dryRun: false, backportChanges: true, batchSize: 10, parallelism: 1 };
          expect((await app.call('POST', '/rollback', { body })).status).toBe(500);

          const { items } = await (await app.call('GET', '/reports?kind=rollback', { as: 'reader' })).json();
          const failed = await (await app.call('GET', `/reports/${items[0].id}`, { as: 'reader' })).json();
          expect(failed).toMatchObject({ status: 'failed', batches: { committed: expect.any(Number) }, tables: { resources: { removed: expect.any(Number) } } });
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
          expect(await split()).toEqual({ resources: 40 - removed, capabilities: 2 * (40 - removed), archived_resources: removed, distinct_resources: removed, archived_capabilities: 2 * removed, archived_with_resource: 2 * removed });
          expect(await snapshot(t)).toEqual({ ...before, mcp: 40 - removed, capabilities: before.capabilities! - 2 * removed });
          expect((await t.db.query(`SELECT count(*)::int AS n FROM resources WHERE id = $1`, [last!.id])).rows[0]).toEqual({ n: 1 });

          // Without the cause, a re-run removes the rest, and the end state is an uninterrupted run's.
          await t.db.query(`UPDATE resources SET metadata = metadata || jsonb_build_object('transport', $2::text) WHERE id = $1`, [last!.id, last!.transport]);
          const rerun = await run(app, body);
          expect(rerun.tables).toMatchObject({ resources: { removed: 40 - removed, backported: 1 }, capabilities: { removed: 2 * (40 - removed) } });
          expect(await split()).toEqual({ resources: 0, capabilities: 0, archived_resources: 40, distinct_resources: 40, archived_capabilities: 80, archived_with_resource: 80 });
          expect(await snapshot(t)).toMatchObject({ mcp: 0, capabilities: 1, servers: before.servers, tools: before.tools, v1_tools: before.v1_tools });
          expect((await t.db.query(`SELECT name FROM mcp_servers WHERE id::text = $1`, [last!.id])).rows).toEqual([{ name: 'changed' }]);
          // The two runs' archives restore v2 exactly as v1 now holds it.
          await t.db.query(`INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`);
          await t.db.query(`INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`);
          expect(await checkFidelity(t.db, 'orm')).toMatchObject({ serverMismatches: [], toolMismatches: [] });
        },
        { servers: 40, toolsPerServer: 2 },
      ));

    it('migrate after rollback after migrate gives the same data, without duplicates', () =>
      cutover(target, async (t, app) => {
        await run(app, {});
        expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200);
        expect(await checkFidelity(t.db, 'orm')).toEqual({ serverMismatches: [], toolMismatches: [], resources: 8, capabilities: 13 });
      }));
  });
}

describe('POST /rollback input and scopes', () => {
  it('rejects bad input naming each field, and needs apply for a real run, changing nothing', () =>
    cutover(databaseTargets()[0]!, async (t, app) => {
      const before = await snapshot(t);
      const bad = await app.call('POST', '/rollback', { body: { dryRun: false, planId: 'not-a-plan', resourceIds: [], force: true } });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toBe('application/problem+json');
      expect((await bad.json()).errors.map((e: { field: string }) => e.field).sort()).toEqual(['force', 'planId', 'resourceIds']);
      expect((await app.call('POST', '/rollback', { as: 'reader' })).status).toBe(403);
      expect((await app.call('POST', '/rollback', { as: 'runner', body: { dryRun: false } })).status).toBe(403);
      expect((await app.call('POST', '/rollback', { as: 'runner' })).status).toBe(200);
      expect(await snapshot(t)).toEqual(before);
    }));
});
