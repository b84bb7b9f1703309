import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { fsObjectStore } from '../../adapters/storage/fs.js';
import { changedTables, tableChecksums } from '../../../test/support/checksums.js';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { migrated } from '../../../test/support/migrated.js';
import { run } from '../../../test/support/rollback.js';

const SIZE = { servers: 12, toolsPerServer: 3 };

/** The checksums of SARK's own tables (v1 and v2): what a rollback changes and a restore must give back. */
const sarkTables = async (t: TestDatabase) =>
  Object.fromEntries(Object.entries(await tableChecksums(t.db)).filter(([name]) => name.startsWith('public.')));

/** The whole database, the service's archive and ledger included: what a refusal or a dry run must leave as it was. */
const everything = (t: TestDatabase) => tableChecksums(t.db);

const restoreCall = (app: TestApp, body: object, as: 'admin' | 'runner' | 'applier' = 'admin') =>
  app.call('POST', '/restore', { as, body });

const restored = async (app: TestApp, body: object) => {
  const res = await restoreCall(app, body);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
};

/** An exported object's bytes, as the store holds them. */
async function objectBytes(app: TestApp, key: string): Promise<Buffer> {
  const body = await app.store.getObject(key);
  expect(body, key).not.toBeNull();
  return Buffer.from(await new Response(body).arrayBuffer());
}

/** The archived rows of a run, as the archive's views give them, each as JSON (what an exported line must parse to). */
async function archivedRows(t: TestDatabase, table: string, rollbackId: string) {
  const view = table === 'resources' ? 'sark_migrate.archived_resources' : 'sark_migrate.archived_capabilities';
  const { rows } = await t.db.query<{ row: Record<string, unknown> }>(
    `SELECT (to_jsonb(a) - 'rollback_id' - 'archived_at') AS row FROM ${view} a WHERE a.rollback_id = $1 ORDER BY a.id`,
    [rollbackId],
  );
  return rows.map((r) => r.row);
}

const byId = (a: { id?: unknown }, b: { id?: unknown }) => String(a.id).localeCompare(String(b.id));

for (const target of databaseTargets()) {
  describe(`POST /restore [${target.driver}]`, () => {
    it(
      'exports the archive as checksummed NDJSON, and migrate, rollback, restore gives back v2 exactly: /validate passes',
      () =>
        migrated(
          target,
          async (t, app) => {
            const before = await sarkTables(t);
            const rollback = await run(app, {});
            expect(rollback.archive).toMatchObject({ rollbackId: rollback.id, exportStatus: 'exported' });
            const exports = rollback.archive.exports as {
              table: string;
              key: string;
              rows: number;
              bytes: number;
              sha256: string;
            }[];
            expect(exports.map((e) => e.table)).toEqual(['resources', 'capabilities']);
            expect(exports.map((e) => e.rows)).toEqual([SIZE.servers, SIZE.servers * SIZE.toolsPerServer]);
            for (const e of exports) {
              const gz = await objectBytes(app, e.key);
              expect(gz.length).toBe(e.bytes);
              const ndjson = gunzipSync(gz);
              expect(createHash('sha256').update(ndjson).digest('hex')).toBe(e.sha256);
              const lines = ndjson.toString('utf8').split('\n');
              expect(lines.pop()).toBe(''); // every line ends with a newline
              expect(lines).toHaveLength(e.rows);
              const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).sort(byId);
              // Through jsonb, as the view's rows are: the same keys and values, whatever the order.
              const { rows: normalised } = await t.db.query<{ row: Record<string, unknown> }>(
                "SELECT l::jsonb AS row FROM unnest($1::text[]) l ORDER BY l::jsonb->>'id'",
                [lines],
              );
              expect(normalised.map((r) => r.row)).toEqual(await archivedRows(t, e.table, rollback.id));
              expect(parsed.map((r) => r.id)).toEqual(normalised.map((r) => r.row.id));
            }
            expect(changedTables(before, await sarkTables(t))).toEqual(['public.capabilities', 'public.resources']);

            const afterRollback = await everything(t);
            const dry = await restored(app, { rollbackReportId: rollback.id });
            expect(dry).toMatchObject({
              kind: 'restore',
              status: 'succeeded',
              dryRun: true,
              source: 'archive',
              rollbackId: rollback.id,
              tables: {
                resources: { rows: SIZE.servers, restored: 0, colliding: 0 },
                capabilities: { rows: SIZE.servers * SIZE.toolsPerServer, restored: 0, colliding: 0 },
              },
              summary: { restored: SIZE.servers * (1 + SIZE.toolsPerServer), colliding: 0 },
            });
            expect(changedTables(afterRollback, await everything(t))).toEqual([]);

            const applied = await restored(app, { rollbackReportId: rollback.id, dryRun: false });
            expect(applied).toMatchObject({
              dryRun: false,
              tables: {
                resources: { restored: SIZE.servers },
                capabilities: { restored: SIZE.servers * SIZE.toolsPerServer },
              },
            });
            expect(changedTables(before, await sarkTables(t))).toEqual([]);
            const validation = await app.call('POST', '/validate', { as: 'runner', body: {} });
            expect(await validation.json()).toMatchObject({ status: 'passed', exitCode: 0 });
          },
          { ...SIZE, withV2: false },
        ),
      120_000,
    );

    it(
      'restores from the exported objects after the archive tables are dropped, checking each checksum first',
      () =>
        migrated(
          target,
          async (t, app) => {
            const before = await sarkTables(t);
            const rollback = await run(app, {});
            await t.db.query('DROP VIEW sark_migrate.archived_resources, sark_migrate.archived_capabilities');
            await t.db.query('DROP TABLE sark_migrate.archived_resource_packs, sark_migrate.archived_capability_packs');
            const dry = await restored(app, { rollbackReportId: rollback.id });
            expect(dry).toMatchObject({
              source: 'exports',
              tables: { resources: { rows: SIZE.servers, colliding: 0 } },
            });
            expect(dry.verified.map((v: { key: string }) => v.key)).toEqual(
              rollback.archive.exports.map((e: { key: string }) => e.key),
            );
            const applied = await restored(app, { rollbackReportId: rollback.id, dryRun: false });
            expect(applied.summary.restored).toBe(SIZE.servers * (1 + SIZE.toolsPerServer));
            expect(changedTables(before, await sarkTables(t))).toEqual([]);
            const validation = await app.call('POST', '/validate', { as: 'runner', body: {} });
            expect(await validation.json()).toMatchObject({ status: 'passed' });
          },
          { ...SIZE, withV2: false },
        ),
      120_000,
    );

    it(
      'refuses a colliding row with a 409 naming it, and an export that does not match its checksum, changing nothing',
      () =>
        migrated(
          target,
          async (t, app) => {
            const rollback = await run(app, {});
            const [archived] = await archivedRows(t, 'resources', rollback.id);
            const id = String(archived!.id);
            await t.db.query(
              `INSERT INTO resources (id, name, protocol, endpoint) VALUES ($1, 'came back', 'mcp', 'x')`,
              [id],
            );
            const unchanged = await everything(t);

            const dry = await restored(app, { rollbackReportId: rollback.id });
            expect(dry.tables.resources).toMatchObject({ colliding: 1, collisions: [id] });
            expect(dry.summary.message).toMatch(/Would refuse/);

            const refused = await restoreCall(app, { rollbackReportId: rollback.id, dryRun: false });
            expect(refused.status).toBe(409);
            expect(refused.headers.get('content-type')).toContain('application/problem+json');
            const problem = await refused.json();
            expect(problem.detail).toContain(id);
            expect(problem.collisions).toMatchObject({ resources: { colliding: 1, ids: [id] } });
            expect(changedTables(unchanged, await everything(t))).toEqual([]);

            // From the exports: one that is not what the report recorded is refused before anything is written.
            await t.db.query('DELETE FROM resources WHERE id = $1', [id]);
            await t.db.query('DELETE FROM sark_migrate.archived_capability_packs');
            await t.db.query('DELETE FROM sark_migrate.archived_resource_packs');
            const key = rollback.archive.exports[1].key;
            const tampered = gunzipSync(await objectBytes(app, key))
              .toString('utf8')
              .replace('"name"', '"name" ');
            await app.store.putObject(
              key,
              new Blob([tampered]).stream().pipeThrough(new CompressionStream('gzip')),
              {},
            );
            const untouched = await everything(t);
            const mismatch = await restoreCall(app, { rollbackReportId: rollback.id, dryRun: false });
            expect(mismatch.status, await mismatch.clone().text()).toBe(409);
            expect((await mismatch.json()).type).toMatch(/archive-mismatch$/);
            expect(changedTables(untouched, await everything(t))).toEqual([]);
          },
          { ...SIZE, withV2: false },
        ),
      120_000,
    );

    it(
      'keeps a rollback whose export fails, saying so in its report, and restores it from the archive',
      () =>
        migrated(
          target,
          async (t) => {
            const folder = await mkdtemp(join(tmpdir(), 'sark-export-fails-'));
            // A file where the exports' folder would be: the file system refuses every object under it (ENOTDIR).
            await writeFile(join(folder, 'archives'), 'not a folder\n');
            const app = await makeTestApp(t.db, { objects: fsObjectStore(folder) });
            const before = await sarkTables(t);
            const rollback = await run(app, {});
            expect(rollback).toMatchObject({
              status: 'succeeded',
              tables: { resources: { removed: SIZE.servers } },
              archive: { exportStatus: 'failed', exports: [] },
            });
            expect(rollback.archive.exportError).toMatch(/^the export of resources failed: .*(ENOTDIR|EEXIST)/);
            expect(rollback.summary.message).toMatch(/export to the report store failed/);
            const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM resources WHERE protocol = 'mcp'`);
            expect(rows).toEqual([{ n: 0 }]);
            const applied = await restored(app, { rollbackReportId: rollback.id, dryRun: false });
            expect(applied).toMatchObject({
              source: 'archive',
              summary: { restored: SIZE.servers * (1 + SIZE.toolsPerServer) },
            });
            expect(changedTables(before, await sarkTables(t))).toEqual([]);
          },
          { ...SIZE, withV2: false },
        ),
      120_000,
    );

    it(
      'answers bad input with 400s naming the field, an unknown report with 404, and a run token with 403',
      () =>
        migrated(
          target,
          async (t, app) => {
            const plan = await app.call('POST', '/rollback', { body: { dryRun: true } });
            const planReport = await plan.json();
            const validation = await (await app.call('POST', '/validate', { as: 'runner', body: {} })).json();
            const rollback = await run(app, {});
            const unchanged = await everything(t);
            const fields = async (body: unknown) => {
              const res = await app.call('POST', '/restore', { body });
              expect(res.status, JSON.stringify(body)).toBe(400);
              return ((await res.json()).errors as { field: string }[]).map((e) => e.field).sort();
            };
            expect(await fields({})).toEqual(['rollbackReportId']);
            expect(await fields({ rollbackReportId: 'nope', dryRun: 'no', extra: 1 })).toEqual([
              'dryRun',
              'extra',
              'rollbackReportId',
            ]);
            expect(await fields({ rollbackReportId: validation.id })).toEqual(['rollbackReportId']);
            expect(await fields({ rollbackReportId: planReport.id })).toEqual(['rollbackReportId']);
            const unknown = await restoreCall(app, { rollbackReportId: '01900000-0000-7000-8000-000000000000' });
            expect(unknown.status).toBe(404);
            expect((await restoreCall(app, { rollbackReportId: rollback.id, dryRun: false }, 'runner')).status).toBe(
              403,
            );
            expect((await restoreCall(app, { rollbackReportId: rollback.id }, 'runner')).status).toBe(403);
            expect(changedTables(unchanged, await everything(t))).toEqual([]);
          },
          { servers: 3, toolsPerServer: 1, withV2: false },
        ),
      120_000,
    );
  });
}
