import { describe, expect, it } from 'vitest';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { pausedBatch } from '../../../test/support/paused-batch.js';
import { BORN, BORN_TOOL, cutover, planIdFor, run, snapshot } from '../../../test/support/rollback.js';
import { rollback } from '../../operations/rollback/index.js';
import { detachedContext } from '../../operations/runner.js';

// The issue "undo the migration exactly, even after cutover, and lose nothing": what a backport writes, which ids are of v1 origin, and rows other sessions change meanwhile.
/**
 * The foreign key from capabilities dropped, a born MCP resource (BORN), and a writer that adds
 * a capability (BORN_TOOL) to it the moment it is written back to v1: after its batch classified
 * its capabilities and before the delete.
 */
async function bornWithoutForeignKey(t: TestDatabase) {
  await t.db.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
  await t.db.query(
    `INSERT INTO resources (id, name, protocol, endpoint, metadata) VALUES ($1, 'born', 'mcp', 'https://born', '{"transport": "http"}')`,
    [BORN],
  );
  await t.db.query(`CREATE FUNCTION add_capability() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO capabilities (id, resource_id, name) VALUES ('${BORN_TOOL}', NEW.id::text, 'added meanwhile'); RETURN NEW; END $$`);
  await t.db.query(
    'CREATE TRIGGER add_capability AFTER INSERT ON mcp_servers FOR EACH ROW EXECUTE FUNCTION add_capability()',
  );
}

for (const target of databaseTargets()) {
  describe(`POST /rollback undoes exactly [${target.driver}]`, () => {
    it('fits its batch size to the measured time of each batch when the request names none, and undoes exactly', () =>
      cutover(
        target,
        async (t) => {
          const before = await snapshot(t);
          // Batches of a few resources take milliseconds, far under a target of 5 s: the sizes grow.
          const report = await rollback(
            t.db,
            {
              dryRun: false,
              backportChanges: false,
              parallelism: 1,
              sizing: { first: 10, targetMs: 5_000, min: 1, max: 1_000 },
            },
            detachedContext(),
          );
          expect(report).toMatchObject({ status: 'succeeded', tables: { resources: { removed: 400, remaining: 0 } } });
          const batches = report.batches!;
          expect(batches.sizing).toMatchObject({ mode: 'adaptive', first: 10, smallest: 10 });
          expect(batches.sizing!.largest).toBeGreaterThan(10);
          expect(batches.committed).toBe(batches.planned);
          expect(batches.committed).toBeGreaterThan(2);
          const after = await snapshot(t);
          expect(after).toMatchObject({ mcp: 0, v1_servers: before.v1_servers, v1_tools: before.v1_tools });
        },
        { servers: 400, toolsPerServer: 1 },
      ));

    it('backports only the fields changed in v2: every other v1 column keeps its value, even one the inverse mapping would not give back', () =>
      cutover(target, async (t, app) => {
        const [server, shadowing] = (
          await t.db.query<{ id: string }>(`SELECT id::text FROM mcp_servers ORDER BY id LIMIT 2`)
        ).rows.map((r) => r.id);
        const [tool] = (
          await t.db.query<{ id: string }>(
            `SELECT id::text FROM mcp_tools WHERE server_id = $1::uuid ORDER BY id LIMIT 1`,
            [server],
          )
        ).rows.map((r) => r.id);
        // A stdio server without a command, and mapped keys the merge columns shadow: backwards, the mapping gives none of them back.
        await t.db.query(
          `UPDATE mcp_servers SET transport = 'stdio', command = NULL, endpoint = 'https://stdio-without-command', description = 'the column',
          extra_metadata = extra_metadata || '{"description": "the shadow"}' WHERE id = ANY($1::uuid[])`,
          [[server, shadowing]],
        );
        await t.db.query(
          `UPDATE mcp_tools SET requires_approval = false, extra_metadata = extra_metadata || '{"requires_approval": "yes"}' WHERE id = $1::uuid`,
          [tool],
        );
        await t.db.query('DELETE FROM capabilities WHERE resource_id = ANY($1::text[])', [[server, shadowing]]);
        await t.db.query('DELETE FROM resources WHERE id = ANY($1::text[])', [[server, shadowing]]);
        expect((await app.call('POST', '/migrate', { body: { dryRun: false } })).status).toBe(200); // v2 as SARK's mapping writes these rows
        await t.db.query(`UPDATE resources SET name = 'renamed in v2' WHERE id = $1`, [server]);
        await t.db.query(`UPDATE capabilities SET name = 'renamed in v2' WHERE id = $1`, [tool]);
        await t.db.query(
          `UPDATE resources SET metadata = metadata || '{"description": "changed in v2"}' WHERE id = $1`,
          [shadowing],
        );
        const plan = await (await app.call('POST', '/rollback', {})).json();
        expect(plan.divergent.rows).toEqual(
          expect.arrayContaining([
            { table: 'resources', id: server, fields: ['name'] },
            { table: 'resources', id: shadowing, fields: ['metadata (extra_metadata)'] },
            { table: 'capabilities', id: tool, fields: ['name'] },
          ]),
        );
        expect(plan.divergent.rows).toHaveLength(3);
        const v1 = async (id: string) =>
          (
            await t.db.query<{ row: Record<string, unknown> }>(
              `SELECT to_jsonb(s) AS row FROM mcp_servers s WHERE id = $1::uuid`,
              [id],
            )
          ).rows[0]!.row;
        const v1Tool = async () =>
          (
            await t.db.query<{ row: Record<string, unknown> }>(
              `SELECT to_jsonb(t) AS row FROM mcp_tools t WHERE id = $1::uuid`,
              [tool],
            )
          ).rows[0]!.row;
        const before = { server: await v1(server!), shadowing: await v1(shadowing!), tool: await v1Tool() };
        const done = await run(app, { backportChanges: true });
        expect(done.tables).toMatchObject({ resources: { backported: 2 }, capabilities: { backported: 1 } });
        expect(await v1(server!)).toEqual({ ...before.server, name: 'renamed in v2' });
        expect(await v1Tool()).toEqual({ ...before.tool, name: 'renamed in v2', updated_at: expect.any(String) }); // a backported tool records when
        // The changed key stays in the merge column, which wins over the description column forwards.
        expect(await v1(shadowing!)).toEqual({
          ...before.shadowing,
          extra_metadata: { ...(before.shadowing.extra_metadata as object), description: 'changed in v2' },
        });
        // The archive, put back, is v2 exactly as v1 now maps (the test oracle knows no shadowed keys: the plan's compare decides).
        await t.db.query(
          `INSERT INTO resources SELECT id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM sark_migrate.archived_resources`,
        );
        await t.db.query(
          `INSERT INTO capabilities SELECT id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata FROM sark_migrate.archived_capabilities`,
        );
        expect((await (await app.call('POST', '/rollback', {})).json()).divergent.rows).toEqual([]);
      }));

    it('classifies the same in the plan and in the run a resource and a capability whose ids spell their v1 uuid in upper case', () =>
      cutover(target, async (t, app) => {
        const [lower] = (
          await t.db.query<{ id: string }>(
            `SELECT id::text FROM mcp_servers WHERE consul_id IS NULL ORDER BY id LIMIT 1`,
          )
        ).rows.map((r) => r.id);
        const upper = lower!.toUpperCase();
        await t.db.query(
          `INSERT INTO resources SELECT upper(id), 'renamed in v2', protocol, endpoint, sensitivity_level, metadata, created_at, updated_at FROM resources WHERE id = $1`,
          [lower],
        );
        await t.db.query('UPDATE capabilities SET resource_id = $2 WHERE resource_id = $1', [lower, upper]);
        await t.db.query('DELETE FROM resources WHERE id = $1', [lower]);
        const [tool] = (
          await t.db.query<{ id: string }>(
            `UPDATE capabilities SET id = upper(id) WHERE id = (SELECT min(id) FROM capabilities WHERE resource_id = $1) RETURNING id`,
            [upper],
          )
        ).rows.map((r) => r.id);
        const plan = await (await app.call('POST', '/rollback', { body: { backportChanges: true } })).json();
        expect(plan.tables.resources).toEqual({ inScope: 6, v1Origin: 6, toRemove: 6 });
        expect(plan.summary.bornInV2).toBe(0);
        const byId = (rows: { table: string; id: string }[]) =>
          [...rows].sort((a, b) => a.table.localeCompare(b.table) || a.id.localeCompare(b.id));
        const divergent = byId(plan.divergent.rows);
        expect(divergent).toEqual(
          expect.arrayContaining([
            { table: 'resources', id: upper, fields: ['name'] },
            { table: 'capabilities', id: tool, fields: ['resource_id'] },
          ]),
        );
        const done = await run(app, { planId: plan.planId, backportChanges: true });
        expect(done.summary).toMatchObject({
          bornInV2: 0,
          divergent: plan.summary.divergent,
          removed: plan.summary.removed,
        });
        expect(byId(done.divergent.rows)).toEqual(divergent);
        expect(done.tables).toMatchObject({
          resources: { removed: 6, writtenBack: 0 },
          capabilities: { removed: 12, writtenBack: 0 },
        });
      }));

    it('writes back a capability born in v2 on a resource of v1 origin, and keeps whole in v2 a resource with one v1 cannot hold', () =>
      cutover(target, async (t, app) => {
        // Both resources are of v1 origin, so their batch first tries archiving all its capabilities at once, and must fall back.
        const [written, kept] = (
          await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 2`)
        ).rows.map((r) => r.id);
        const added = '0c0c0c0c-0000-4000-8000-000000000001';
        await t.db.query(
          `INSERT INTO capabilities (id, resource_id, name, input_schema) VALUES ($1, $2, 'added after cutover', '{"type": "object"}'), ('not-a-uuid', $3, 'unrepresentable', '{}')`,
          [added, written, kept],
        );
        const before = await snapshot(t);
        const done = await run(app, {});
        expect(done.tables).toMatchObject({
          resources: { removed: 5, writtenBack: 0 },
          capabilities: { removed: 11, writtenBack: 1 },
        });
        // The page range's batch fell back, and so did the last one, which holds the resource that stays.
        expect(done.batches).toMatchObject({ archivedWhole: 0, fellBack: 2 });
        expect(done.bornInV2.rows).toEqual([
          { table: 'capabilities', id: added, outcome: 'written back to v1' },
          { table: 'capabilities', id: 'not-a-uuid', outcome: 'stays in v2', reason: 'its id is not a UUID' },
        ]);
        expect(
          (await t.db.query(`SELECT server_id::text, name FROM mcp_tools WHERE id = $1::uuid`, [added])).rows,
        ).toEqual([{ server_id: written, name: 'added after cutover' }]);
        // The kept resource stays with every capability it had: its two of v1 origin and the one v1 cannot hold.
        const left = await t.db.query(
          `SELECT r.id, count(c.id)::int AS capabilities FROM resources r LEFT JOIN capabilities c ON c.resource_id = r.id WHERE r.protocol = 'mcp' GROUP BY r.id`,
        );
        expect(left.rows).toEqual([{ id: kept, capabilities: 3 }]);
        expect(await snapshot(t)).toMatchObject({ mcp: 1, tools: before.tools! + 1, servers: before.servers });
        const archived = await t.db.query(
          `SELECT (SELECT count(*)::int FROM sark_migrate.archived_resources) AS r, (SELECT count(*)::int FROM sark_migrate.archived_capabilities) AS c`,
        );
        expect(archived.rows).toEqual([{ r: 5, c: 11 }]);
      }));

    it("archives values longer than the service's own columns whole, in a v2 table with wider columns than ours", () =>
      cutover(target, async (t, app) => {
        await t.db.query('ALTER TABLE resources ALTER COLUMN name TYPE varchar(2000)');
        await t.db.query('ALTER TABLE capabilities ALTER COLUMN name TYPE varchar(2000)');
        const [id] = (
          await t.db.query<{ id: string }>(
            `UPDATE resources SET name = repeat('r', 1500) WHERE id = (SELECT min(id) FROM resources WHERE protocol = 'mcp') RETURNING id`,
          )
        ).rows.map((r) => r.id);
        await t.db.query(`UPDATE capabilities SET name = repeat('c', 1500) WHERE resource_id = $1`, [id]);
        const done = await run(app, {});
        expect(done.tables).toMatchObject({ resources: { removed: 6 }, capabilities: { removed: 12 } });
        const lengths = await t.db.query(
          `SELECT (SELECT length(name) FROM sark_migrate.archived_resources WHERE id = $1) AS resource,
          (SELECT array_agg(DISTINCT length(name)) FROM sark_migrate.archived_capabilities WHERE resource_id = $1) AS capabilities`,
          [id],
        );
        expect(lengths.rows).toEqual([{ resource: 1500, capabilities: [1500] }]);
      }));

    it("deletes by id a resource that something in the batch's own transaction moved, after the locked TIDs miss it", () =>
      cutover(target, async (t, app) => {
        // A v2 trigger touches the parent of every deleted capability: within the batch, each resource gets a new row version.
        await t.db.query(
          `CREATE FUNCTION touch_parent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE resources SET updated_at = now() WHERE id = OLD.resource_id; RETURN OLD; END $$`,
        );
        await t.db.query(
          'CREATE TRIGGER touch_parent AFTER DELETE ON capabilities FOR EACH ROW EXECUTE FUNCTION touch_parent()',
        );
        // A subset runs as one batch: no later batch would pick up what it left.
        const ids = (await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp'`)).rows.map(
          (r) => r.id,
        );
        const done = await run(app, { resourceIds: ids });
        expect(done.tables).toMatchObject({ resources: { removed: 6 }, capabilities: { removed: 12 } });
        expect(done.batches).toMatchObject({ committed: 1, archivedWhole: 1 });
        expect(await snapshot(t)).toMatchObject({ mcp: 0, capabilities: 1 });
        const archived = await t.db.query(
          `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM sark_migrate.archived_resources WHERE rollback_id = $1`,
          [done.archive.rollbackId],
        );
        expect(archived.rows).toEqual([{ n: 6, ids: 6 }]);
      }));

    // Another session is needed: PGlite has one.
    it.skipIf(target.driver === 'pglite')(
      'a capability another session adds to a resource while its batch archives in one pass waits, then finds the resource gone',
      () =>
        cutover(target, async (t, app) => {
          const [resource] = (
            await t.db.query<{ id: string }>(`SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 1`)
          ).rows.map((r) => r.id);
          // The batch stops inside its one pass until the test opens the gate.
          const race = await pausedBatch(t, 'BEFORE INSERT ON sark_migrate.archived_capability_packs');
          try {
            const running = run(app, {});
            await race.paused();
            const writing = race.writer
              .query(
                `INSERT INTO capabilities (id, resource_id, name) VALUES ('0d0d0d0d-0000-4000-8000-000000000001', $1, 'added meanwhile')`,
                [resource],
              )
              .catch((e: unknown) => e);
            await race.writerWaits();
            await race.open();
            const done = await running;
            expect(done.tables).toMatchObject({ resources: { removed: 6 }, capabilities: { removed: 12 } });
            expect(done.batches).toMatchObject({ archivedWhole: 2, fellBack: 0 });
            expect(await writing).toMatchObject({ code: '23503' }); // the resource it named is gone: no orphan, nothing lost
            expect(await snapshot(t)).toMatchObject({ mcp: 0, capabilities: 1 });
          } finally {
            await race.close();
          }
        }),
    );

    it('a batch that fails while archiving all its capabilities at once changes nothing, and a re-run finishes the job', () =>
      cutover(
        target,
        async (t, app) => {
          const [last] = (
            await t.db.query<{ id: string }>(
              `SELECT id FROM resources WHERE protocol = 'mcp' ORDER BY ctid DESC LIMIT 1`,
            )
          ).rows.map((r) => r.id);
          // The archive refuses the last resource's capabilities: its batch fails after the batches before it committed.
          await t.db.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF EXISTS (SELECT 1 FROM unnest(NEW.rows) r WHERE r.resource_id = '${last}') THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`);
          await t.db.query(
            'CREATE TRIGGER refuse BEFORE INSERT ON sark_migrate.archived_capability_packs FOR EACH ROW EXECUTE FUNCTION refuse()',
          );
          const scope = { batchSize: 10, parallelism: 1 };
          const body = { ...scope, dryRun: false, planId: await planIdFor(app, scope) };
          expect((await app.call('POST', '/rollback', { body })).status).toBe(500);
          const state = async () =>
            (
              await t.db.query<
                Record<string, number>
              >(`SELECT (SELECT count(*)::int FROM resources WHERE protocol = 'mcp') AS resources,
                (SELECT count(*)::int FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE r.protocol = 'mcp') AS capabilities,
                (SELECT count(*)::int FROM sark_migrate.archived_resources) AS archived_resources, (SELECT count(*)::int FROM sark_migrate.archived_capabilities) AS archived_capabilities`)
            ).rows[0]!;
          const failed = await state();
          expect(failed.resources).toBeGreaterThan(0);
          expect(failed.resources).toBeLessThan(40);
          // Whole batches only: every resource still in v2 has both its capabilities, and what left is archived whole.
          expect(failed).toEqual({
            resources: failed.resources,
            capabilities: 2 * failed.resources!,
            archived_resources: 40 - failed.resources!,
            archived_capabilities: 2 * (40 - failed.resources!),
          });
          await t.db.query('DROP TRIGGER refuse ON sark_migrate.archived_capability_packs');
          const rerun = await run(app, scope); // on a new plan: the failed run changed the database
          expect(rerun.tables).toMatchObject({
            resources: { removed: failed.resources },
            capabilities: { removed: 2 * failed.resources! },
          });
          expect(await state()).toEqual({
            resources: 0,
            capabilities: 0,
            archived_resources: 40,
            archived_capabilities: 80,
          });
        },
        { servers: 40, toolsPerServer: 2 },
      ));

    // Another session is needed: PGlite has one.
    it.skipIf(target.driver === 'pglite')(
      'with backportChanges, a capability another session updates during the batch waits for it: v1 and the archive agree',
      () =>
        cutover(target, async (t, app) => {
          const [tool] = (
            await t.db.query<{ id: string }>(
              `SELECT id FROM capabilities WHERE resource_id <> 'http-1' ORDER BY id LIMIT 1`,
            )
          ).rows.map((r) => r.id);
          await t.db.query(`UPDATE capabilities SET name = 'changed in v2' WHERE id = $1`, [tool]);
          // The batch stops after its backport of tools until the test opens the gate.
          const race = await pausedBatch(t, 'AFTER UPDATE ON mcp_tools');
          try {
            const running = run(app, { backportChanges: true });
            await race.paused();
            let wrote = false;
            const writing = race.writer
              .query(`UPDATE capabilities SET name = 'changed meanwhile' WHERE id = $1`, [tool])
              .then((r) => ((wrote = true), r));
            // The update lands at once where nothing locks the row; otherwise it waits for the batch.
            await race.writerWaits(() => wrote);
            await race.open();
            await running;
            const names = await t.db.query(
              `SELECT (SELECT name FROM mcp_tools WHERE id::text = $1) AS v1, (SELECT name FROM sark_migrate.archived_capabilities WHERE id = $1) AS archived`,
              [tool],
            );
            expect(names.rows[0]).toEqual({ v1: 'changed in v2', archived: 'changed in v2' });
            expect((await writing).rowCount).toBe(0); // it waited, then found the capability gone
          } finally {
            await race.close();
          }
        }),
    );

    it('without the foreign key deletes only the capabilities it classified: one added meanwhile stays until a later batch writes it back', () =>
      cutover(target, async (t, app) => {
        // A writer adds a capability to the born resource after its batch classified capabilities and before the delete.
        await bornWithoutForeignKey(t);
        const done = await run(app, {});
        expect(done.tables).toMatchObject({
          resources: { removed: 7, writtenBack: 1 },
          capabilities: { removed: 13, writtenBack: 1 },
        });
        expect(
          (await t.db.query('SELECT server_id::text, name FROM mcp_tools WHERE id = $1', [BORN_TOOL])).rows,
        ).toEqual([{ server_id: BORN, name: 'added meanwhile' }]);
        expect(await snapshot(t)).toMatchObject({ mcp: 0, capabilities: 1 });
        const archived = await t.db.query(
          `SELECT count(*)::int AS n FROM sark_migrate.archived_capabilities WHERE id = $1`,
          [BORN_TOOL],
        );
        expect(archived.rows).toEqual([{ n: 1 }]);
      }));

    it('without the foreign key says how many resources a capability added during the last batch kept in v2, and a re-run takes them', () =>
      cutover(target, async (t, app) => {
        // A subset has only the last batch: the writer adds its capability during that batch.
        await bornWithoutForeignKey(t);
        const [other] = (
          await t.db.query<{ id: string }>(
            `SELECT id FROM resources WHERE protocol = 'mcp' AND id <> $1 ORDER BY id LIMIT 1`,
            [BORN],
          )
        ).rows.map((r) => r.id);
        const done = await run(app, { resourceIds: [BORN, other] });
        expect(done.tables.resources).toEqual({ removed: 1, writtenBack: 1, backported: 0, remaining: 1 });
        expect(done.summary.message).toMatch(/; 1 MCP resource in scope remains in v2 \(/);
        await t.db.query('DROP TRIGGER add_capability ON mcp_servers');
        const again = await run(app, { resourceIds: [BORN, other] });
        expect(again.tables).toMatchObject({
          resources: { removed: 1, remaining: 0 },
          capabilities: { removed: 1, writtenBack: 1 },
        });
        expect(again.summary.message).not.toMatch(/remain in v2/);
        expect((await t.db.query('SELECT count(*)::int AS n FROM resources WHERE id = $1', [BORN])).rows).toEqual([
          { n: 0 },
        ]);
      }));
  });
}
