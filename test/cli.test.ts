import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteCopies } from '../src/adapters/copies/pglite.js';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import { pgliteDatabase } from '../src/adapters/db/pglite.js';
import { applyServiceMigrations } from '../src/db/service-migrations.js';
import { REHEARSAL_STEPS } from '../src/reports/rehearsal.js';
import { main } from '../src/cli/main.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { changedTables, tableChecksums } from './support/checksums.js';
import { databaseTargets, type TestDatabase } from './support/databases.js';
import { seedV1 } from './support/seed.js';

const BIN = new URL('../bin/sark-migrate.js', import.meta.url).pathname;
const SERVERS = 40;
const TOOLS = 2;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command line as a CI job runs it: `node bin/sark-migrate.js`, configured by the environment. */
function cli(args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = serve({ fetch: () => new Response(), hostname: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the command line without a service', () => {
  it('exits 5 on a usage error, saying what is wrong, and 0 with the usage for help', async () => {
    const unknown = await cli(['frobnicate'], { SARK_MIGRATE_URL: 'http://127.0.0.1:9', SARK_MIGRATE_TOKEN: 'x' });
    expect(unknown).toMatchObject({ code: 5, stdout: '' });
    expect(unknown.stderr).toMatch(/Unknown command "frobnicate"/);
    const noUrl = await cli(['validate'], { SARK_MIGRATE_TOKEN: 'x' });
    expect(noUrl.code).toBe(5);
    expect(noUrl.stderr).toMatch(/SARK_MIGRATE_URL/);
    const notDry = await cli(['migrate'], { SARK_MIGRATE_URL: 'http://127.0.0.1:9', SARK_MIGRATE_TOKEN: 'x' });
    expect(notDry.code).toBe(5);
    expect(notDry.stderr).toMatch(/migrate --dry-run/);
    const badNumber = await cli(['validate', '--sample-size', 'ten'], {
      SARK_MIGRATE_URL: 'http://127.0.0.1:9',
      SARK_MIGRATE_TOKEN: 'x',
    });
    expect(badNumber.code).toBe(5);
    const help = await cli(['help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sark-migrate <command>/m);
  });

  it('exits 4 when nothing answers at the URL, without printing the token', async () => {
    const port = await closedPort();
    const token = 'sm_secret_that_must_not_show';
    const ran = await cli(['validate'], { SARK_MIGRATE_URL: `http://127.0.0.1:${port}`, SARK_MIGRATE_TOKEN: token });
    expect(ran.code).toBe(4);
    expect(ran.stderr).toMatch(/Cannot reach the service at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(ran.stdout + ran.stderr).not.toContain(token);
  });

  it('exits 4 when the service answers 503 (its database does not answer), printing the problem plainly', async () => {
    const nowhere = await closedPort();
    const app = await makeTestApp(
      createPgDatabase({ connectionString: `postgres://postgres@127.0.0.1:${nowhere}/sark` }),
    );
    const server = serve({ fetch: app.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const ran = await cli(['validate', '--json'], {
        SARK_MIGRATE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        SARK_MIGRATE_TOKEN: app.tokens.runner,
      });
      expect(ran.code).toBe(4);
      expect(ran.stderr).toMatch(/^sark-migrate: 503 Database unavailable: /);
      expect(JSON.parse(ran.stdout)).toMatchObject({ status: 503, title: 'Database unavailable' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await app.deps.db.close();
    }
  });
});

describe('the command line: rehearse [pglite clone]', () => {
  it('runs the cutover on a throwaway copy, lists each step and the copy dropped, and leaves the source as it was', async () => {
    const pglite = await PGlite.create();
    const db = pgliteDatabase(pglite);
    await seedV1(db, { servers: 8, toolsPerServer: 2, withV2: false });
    await applyServiceMigrations(db);
    const app = await makeTestApp(db, { deps: { copies: pgliteCopies(pglite) } });
    const server = serve({ fetch: app.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const env = (token: keyof TestApp['tokens']) => ({
      SARK_MIGRATE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      SARK_MIGRATE_TOKEN: app.tokens[token],
    });
    try {
      const before = await tableChecksums(db);
      const ran = await cli(['rehearse', '--iterations', '1', '--warmup', '0'], env('admin'));
      expect(ran.code, ran.stdout + ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^rehearsal \S+: passed \(exit 0\)$/m);
      for (const step of REHEARSAL_STEPS) expect(ran.stdout).toMatch(new RegExp(`^ {2}✓ ${step}: `, 'm'));
      expect(ran.stdout).toMatch(/^ {2}copy: pglite-clone \S+, dropped$/m);
      expect(changedTables(before, await tableChecksums(db))).toEqual([]);

      // It changes a copy, not the database, yet needs apply: a run token is refused, exit 3.
      const refused = await cli(['rehearse'], env('runner'));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/^sark-migrate: 403 Forbidden: /);
      const bad = await cli(['rehearse', '--iterations', '0'], env('admin'));
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/^ {2}benchmark\.iterations \(body\): /m);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await app.settle();
      await db.close();
    }
  }, 120_000);
});

const targets = databaseTargets();

for (const target of targets) {
  describe(`the command line against the Node service [${target.driver}]`, () => {
    let t: TestDatabase;
    let app: TestApp;
    let server: ServerType;
    let url: string;
    /** Every request the service answered, as "METHOD /path status". */
    const seen: string[] = [];

    beforeAll(async () => {
      t = await target.open();
      await seedV1(t.db, { servers: SERVERS, toolsPerServer: TOOLS });
      app = await makeTestApp(t.db, { deps: { progressIntervalMs: 20 } });
      server = serve({
        fetch: async (request) => {
          const response = await app.app.fetch(request);
          seen.push(`${request.method} ${new URL(request.url).pathname} ${response.status}`);
          return response;
        },
        hostname: '127.0.0.1',
        port: 0,
      });
      await new Promise((resolve) => server.once('listening', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }, 120_000);

    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
      await app?.settle();
      await t?.dispose();
    });

    const as = (token: keyof TestApp['tokens'] = 'admin') => ({
      SARK_MIGRATE_URL: url,
      SARK_MIGRATE_TOKEN: app.tokens[token],
    });
    const count = async (table: string) =>
      Number((await t.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n);

    it('migrate --dry-run changes nothing and names the apply command; apply migrate <id> migrates, refused while its plan is stale', async () => {
      const dry = await cli(['migrate', '--dry-run'], as());
      expect(dry.code, dry.stderr).toBe(0);
      const [, id] = /^migration (\S+): succeeded \(exit 0\)$/m.exec(dry.stdout)!;
      expect(dry.stdout).toContain(`To migrate as planned: sark-migrate apply migrate ${id}`);
      expect(await count('resources')).toBe(0);

      // The run token may plan but not apply: the problem, plainly, and exit 3.
      const refused = await cli(['apply', 'migrate', id!], as('runner'));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/^sark-migrate: 403 Forbidden: /);
      expect(await count('resources')).toBe(0);

      // A v1 server changed after the plan: the dry run's planId no longer matches, nothing is copied.
      const renamed = `UPDATE mcp_servers SET name = name || '-changed' WHERE id = (SELECT id FROM mcp_servers ORDER BY id LIMIT 1)`;
      await t.admin.query(renamed);
      const stale = await cli(['apply', 'migrate', id!], as());
      expect(stale.code).toBe(3);
      expect(stale.stderr).toMatch(/409 The plan is stale: /);
      expect(await count('resources')).toBe(0);
      await t.admin.query(`UPDATE mcp_servers SET name = regexp_replace(name, '-changed$', '')`);

      const applied = await cli(['apply', 'migrate', id!, '--json'], as());
      expect(applied.code, applied.stderr).toBe(0);
      const report = JSON.parse(applied.stdout);
      expect(report).toMatchObject({
        kind: 'migration',
        status: 'succeeded',
        dryRun: false,
        summary: { copied: SERVERS * (1 + TOOLS) },
      });
      expect([await count('resources'), await count('capabilities')]).toEqual([SERVERS, SERVERS * TOOLS]);
      // Asked with respond-async, answered 202, followed to the end.
      expect(seen).toContain(`POST /migrate 202`);
      expect(seen).toContain(`GET /reports/${report.id} 200`);
    });

    it('validate exits 0 on a database that passes, following the 202 to the end; --json prints the report', async () => {
      seen.length = 0;
      const ran = await cli(['validate', '--mode', 'full'], as());
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toBe(''); // no terminal: no progress line
      const [, id] = /^validation (\S+): passed \(exit 0\)$/m.exec(ran.stdout)!;
      expect(ran.stdout).toContain(`report: ${url}/reports/${id}`);
      expect(seen[0]).toBe('POST /validate 202');
      expect(seen.at(-1)).toBe(`GET /reports/${id} 200`);

      const json = await cli(['validate', '--json', '--sync'], as());
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout);
      expect(report).toMatchObject({ kind: 'validation', status: 'passed', exitCode: 0, mode: 'full' });
      expect(seen.at(-1)).toBe('POST /validate 200'); // --sync: no respond-async asked

      // report <id> prints the stored report; wait <id> on an ended one returns at once.
      const stored = await cli(['report', report.id, '--json'], as('reader'));
      expect(JSON.parse(stored.stdout)).toEqual(report);
      expect((await cli(['wait', report.id], as('reader'))).code).toBe(0);
    });

    it('validate exits 1 when an error check fails, listing the check and the offending id', async () => {
      const { rows } = await t.admin.query<{ id: string }>(
        `UPDATE resources SET name = name || '-renamed' WHERE id = (SELECT min(id) FROM resources) RETURNING id`,
      );
      try {
        const ran = await cli(['validate'], as());
        expect(ran.code, ran.stderr).toBe(1);
        expect(ran.stdout).toMatch(/^validation \S+: failed \(exit 1\)$/m);
        expect(ran.stdout).toContain(`✗ data.servers_fidelity (error): `);
        expect(ran.stdout).toContain(`[${rows[0]!.id}]`);
      } finally {
        await t.admin.query(`UPDATE resources SET name = regexp_replace(name, '-renamed$', '')`);
      }
    });

    it("preflight exits with its report's exitCode, its failed checks listed; a bad option value is the service's 400", async () => {
      seen.length = 0;
      const json = await cli(['preflight', '--sample-servers', '0', '--json'], as());
      const report = JSON.parse(json.stdout);
      expect(report).toMatchObject({ kind: 'preflight', request: { sampleServers: 0 } });
      expect(json.code).toBe(report.exitCode);
      expect(seen[0]).toBe('POST /preflight 202');

      const ran = await cli(['preflight', '--sample-servers', '0'], as());
      expect(ran.code).toBe(report.exitCode);
      expect(ran.stdout).toMatch(new RegExp(`^preflight \\S+: ${report.status} \\(exit ${report.exitCode}\\)$`, 'm'));
      for (const check of report.checks.filter((c: { passed: boolean; skipped?: boolean }) => !c.passed && !c.skipped))
        expect(ran.stdout).toContain(`✗ ${check.name} (${check.severity}): `);

      const bad = await cli(['preflight', '--sample-servers', '999999'], as());
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/^ {2}sampleServers \(body\): /m);
      const readOnly = await cli(['preflight'], as('reader'));
      expect(readOnly.code).toBe(3);
      expect(readOnly.stderr).toMatch(/403 Forbidden/);
    });

    it('a bad token: the problem printed plainly, exit 3, and the token never shown', async () => {
      const token = 'sm_not_a_known_token_0123456789';
      const ran = await cli(['validate'], { SARK_MIGRATE_URL: url, SARK_MIGRATE_TOKEN: token });
      expect(ran.code).toBe(3);
      expect(ran.stdout).toBe('');
      expect(ran.stderr).toMatch(/^sark-migrate: 401 Unauthorized: .+/);
      expect(ran.stdout + ran.stderr).not.toContain(token);

      // Bad input: each offending field named, exit 3; --json prints the problem itself.
      const bad = await cli(['validate', '--mode', 'everything', '--sample-size', '0', '--json'], as());
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/400 Bad request: /);
      expect(bad.stderr).toMatch(/^ {2}mode \(body\): /m);
      expect(bad.stderr).toMatch(/^ {2}sampleSize \(body\): /m);
      expect(JSON.parse(bad.stdout)).toMatchObject({ status: 400, errors: expect.any(Array) });
    });

    it('a token that may run but not read: --sync works, following a 202 is refused with a hint, exit 3', async () => {
      const sync = await cli(['validate', '--mode', 'quick', '--sync'], as('runner'));
      expect(sync.code, sync.stderr).toBe(0);
      expect(sync.stdout).toMatch(/^validation \S+: passed \(exit 0\)$/m);
      const followed = await cli(['validate', '--mode', 'quick'], as('runner'));
      expect(followed.code).toBe(3);
      expect(followed.stderr).toMatch(/^sark-migrate: 403 Forbidden: .*"read" scope/);
      expect(followed.stderr).toMatch(/this token cannot read its report to follow it: .* or pass --sync\.$/m);
    });

    it('follows a running report with a progress line on a terminal, and gives the exit code of its end', async () => {
      const stderr: string[] = [];
      const stdout: string[] = [];
      const code = await main(['benchmark', '--iterations', '40', '--warmup', '1'], as(), {
        stdout: { write: (text) => stdout.push(text) },
        stderr: { write: (text) => stderr.push(text), isTTY: true },
        pollMs: { first: 10, max: 20 },
      });
      const [, id] = /^benchmark (\S+): (succeeded|regressed) \(exit 0\)$/m.exec(stdout.join(''))!;
      expect(code).toBe(0);
      expect(stderr.some((line) => line.startsWith(`\r\x1b[Kbenchmark ${id}: running, `))).toBe(true);
      expect(stderr.at(-1)).toBe('\r\x1b[K'); // the line is cleared before the summary

      // wait <id> follows a run someone else started.
      const started = await app.call('POST', '/validate', {
        as: 'runner',
        headers: { Prefer: 'respond-async' },
        body: { mode: 'quick' },
      });
      expect(started.status).toBe(202);
      const waited = await cli(['wait', (await started.json()).id], as('reader'));
      expect(waited.code).toBe(0);
      expect(waited.stdout).toMatch(/^validation \S+: passed \(exit 0\)$/m);
    });

    it('optimize plan lists the candidates; apply <id> refuses a report that is no dry run', async () => {
      const plan = await cli(['optimize', 'plan'], as());
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/^optimization \S+: succeeded \(exit 0\)$/m);
      expect(plan.stdout).toMatch(/^ {2}ix_capabilities_input_schema_type: priority \w+$/m);
      const [, planReport] = /^optimization (\S+):/m.exec(plan.stdout)!;
      const notDry = await cli(['apply', planReport!], as());
      expect(notDry.code).toBe(5);
      expect(notDry.stderr).toMatch(
        /is a optimization report: apply takes the report of a migrate, rollback or restore dry run/,
      );
    });

    it('rollback --dry-run then apply rollback <id>; a plan gone stale is refused, exit 3', async () => {
      const dry = await cli(['rollback', '--dry-run'], as());
      expect(dry.code, dry.stderr).toBe(0);
      const [, id] = /^rollback (\S+): succeeded \(exit 0\)$/m.exec(dry.stdout)!;
      const [, planId] = /^ {2}planId: ([0-9a-f]{32})$/m.exec(dry.stdout)!;

      // A resource changed in v2 after the plan: the database no longer matches it.
      await t.admin.query(`UPDATE resources SET name = name || '-changed' WHERE id = (SELECT min(id) FROM resources)`);
      const stale = await cli(['apply', 'rollback', id!], as());
      expect(stale.code).toBe(3);
      expect(stale.stderr).toMatch(/409 The plan is stale: /);
      expect(await count('resources')).toBe(SERVERS);
      await t.admin.query(`UPDATE resources SET name = regexp_replace(name, '-changed$', '')`);

      const applied = await cli(['apply', planId!], as());
      expect(applied.code, applied.stderr).toBe(0);
      const [, rollbackReportId] = /^rollback (\S+): succeeded \(exit 0\)$/m.exec(applied.stdout)!;
      expect(await count('resources')).toBe(0);

      // The rollback's archived rows go back: a dry run first, changing nothing, then its apply.
      const notDry = await cli(['restore', rollbackReportId!], as());
      expect(notDry.code).toBe(5);
      expect(notDry.stderr).toMatch(/restore --dry-run <rollbackReportId>/);
      const check = await cli(['restore', '--dry-run', rollbackReportId!], as());
      expect(check.code, check.stderr).toBe(0);
      const [, restoreId] = /^restore (\S+): succeeded \(exit 0\)$/m.exec(check.stdout)!;
      expect(check.stdout).toContain(`To restore as checked: sark-migrate apply restore ${restoreId}`);
      expect(await count('resources')).toBe(0);
      const restored = await cli(['apply', 'restore', restoreId!], as());
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/^restore \S+: succeeded \(exit 0\)$/m);
      expect([await count('resources'), await count('capabilities')]).toEqual([SERVERS, SERVERS * TOOLS]);
      expect((await cli(['validate', '--mode', 'full'], as())).code).toBe(0); // the same data as migrated

      // A second restore of the same run collides on every row: the dry run says so, and no apply hint.
      const again = await cli(['restore', '--dry-run', rollbackReportId!], as());
      expect(again.stdout).toMatch(new RegExp(`^ {2}resources: ${SERVERS} colliding \\[`, 'm'));
      expect(again.stdout).not.toContain('To restore as checked');
    });

    // Last: it leaves the database broken.
    it('validate exits 2 when a critical check fails', async () => {
      await t.admin.query('ALTER TABLE capabilities DROP CONSTRAINT capabilities_resource_id_resources_id_fk');
      await t.admin.query(`UPDATE capabilities SET resource_id = 'gone' WHERE id = (SELECT min(id) FROM capabilities)`);
      const ran = await cli(['validate', '--mode', 'relationships'], as());
      expect(ran.code, ran.stderr).toBe(2);
      expect(ran.stdout).toMatch(/^validation \S+: critical \(exit 2\)$/m);
      expect(ran.stdout).toContain('✗ relationships.capabilities_resource_fk (critical): ');
    });
  });
}
