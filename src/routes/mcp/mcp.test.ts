import { serve } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp, type TokenName } from '../../../test/support/app.js';
import { databaseTargets, type TestDatabase } from '../../../test/support/databases.js';
import { startReceiver } from '../../../test/support/receiver.js';
import { seedV1 } from '../../../test/support/seed.js';
import type { NotifyOptions } from '../../notify/send.js';

/** The real app on 127.0.0.1 (an ephemeral port), as `npm start` serves it, and MCP clients of it. */
interface Served {
  t: TestDatabase;
  app: TestApp;
  url: URL;
  client(as: TokenName): Promise<Client>;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveApp(t: TestDatabase, notify?: NotifyOptions): Promise<Served> {
  const app = await makeTestApp(t.db, notify ? { deps: { notify } } : {});
  const url = await new Promise<URL>((resolve) => {
    const server = serve({ fetch: app.app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve(new URL(`http://127.0.0.1:${info.port}/mcp`)),
    );
    cleanups.push(() => new Promise((closed) => server.close(closed)));
  });
  cleanups.push(() => app.settle());
  return {
    t,
    app,
    url,
    async client(as) {
      const client = new Client({ name: 'sark-migrate-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${app.tokens[as]}` } },
      });
      await client.connect(transport);
      cleanups.push(() => client.close());
      return client;
    },
  };
}

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult & {
    structuredContent: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

const textOf = (result: CallToolResult) =>
  result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');

/** The JSON part carries the same document as structuredContent, for clients that read only text. */
function expectJsonPart(result: CallToolResult & { structuredContent: object }) {
  const json = result.content.find((part) => part.type === 'text' && part.text.startsWith('{'));
  expect(JSON.parse((json as { text: string }).text)).toEqual(result.structuredContent);
}

async function fresh(target: (typeof TARGETS)[number]): Promise<TestDatabase> {
  const t = await target.open();
  cleanups.push(() => t.dispose());
  await seedV1(t.db, { servers: 8, toolsPerServer: 2, withV2: false });
  return t;
}

const TARGETS = databaseTargets();

for (const target of TARGETS) {
  describe(`/mcp with the SDK's client over HTTP [${target.driver}]`, () => {
    it('lists the twelve tools, annotated, each with its endpoint schema', async () => {
      const served = await serveApp(await fresh(target));
      const { tools } = await (await served.client('reader')).listTools();
      const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
      expect(Object.keys(byName).sort()).toEqual([
        'apply',
        'benchmark',
        'cancel',
        'get_report',
        'list_reports',
        'migrate_plan',
        'optimize_plan',
        'preflight',
        'rehearse',
        'restore_plan',
        'rollback_plan',
        'validate',
      ]);
      for (const name of [
        'validate',
        'preflight',
        'benchmark',
        'optimize_plan',
        'migrate_plan',
        'rollback_plan',
        'restore_plan',
        'get_report',
      ]) {
        expect(byName[name]!.annotations, name).toMatchObject({ readOnlyHint: true, openWorldHint: false });
      }
      expect(byName.apply!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      expect(byName.cancel!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
      // A rehearsal writes only to its own copy.
      expect(byName.rehearse!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
      expect(byName.rehearse!.inputSchema.properties).toMatchObject({
        keep: { type: 'boolean' },
        benchmark: { properties: { iterations: { minimum: 1, maximum: 100 } } },
      });
      expect(byName.restore_plan!.inputSchema.required).toEqual(['rollbackReportId']);
      expect(byName.restore_plan!.inputSchema.properties).not.toHaveProperty('dryRun');
      // The endpoints' own fields and limits, where a plan tool has no dryRun.
      expect(byName.validate!.inputSchema.properties).toMatchObject({
        mode: { enum: ['quick', 'full', 'schema', 'data', 'relationships'] },
        sampleSize: { minimum: 1, maximum: 1000 },
      });
      expect(Object.keys(byName.migrate_plan!.inputSchema.properties!)).toEqual(
        expect.arrayContaining(['serverIds', 'batchSize', 'respondAsync']),
      );
      expect(byName.migrate_plan!.inputSchema.properties).not.toHaveProperty('dryRun');
      expect(byName.rollback_plan!.inputSchema.properties).toHaveProperty('backportChanges');
      expect(byName.apply!.inputSchema).toMatchObject({
        required: ['operation'],
        properties: {
          operation: { enum: ['migrate', 'rollback', 'optimize', 'restore'] },
          planId: { pattern: '^[0-9a-f]{32}$' },
        },
      });
      expect(byName.get_report!.inputSchema.required).toEqual(['id']);
      expect(byName.preflight!.inputSchema.properties).toMatchObject({
        sampleServers: { minimum: 0, maximum: 20_000 },
        respondAsync: { type: 'boolean' },
      });
    });

    it('plans a migration, refuses to apply it for a run token, applies it with its planId, then validates it', async () => {
      const served = await serveApp(await fresh(target));
      const runner = await served.client('runner');

      // Ready? The checklist, and an estimate from a sample that is rolled back.
      const preflight = await call(runner, 'preflight', { sampleServers: 4 });
      expect(preflight.isError ?? false).toBe(false);
      expect(preflight.structuredContent).toMatchObject({
        kind: 'preflight',
        v2: 'absent',
        estimate: { toCopy: { resources: 8, capabilities: 16 }, sample: { rolledBack: true } },
      });
      // Its batches are spread over the id space: on 8 servers one may find none of the 4 asked for.
      const { sample } = preflight.structuredContent.estimate as { sample: { servers: number } };
      expect(sample.servers).toBeGreaterThan(0);
      expect(sample.servers).toBeLessThanOrEqual(4);

      const plan = await call(runner, 'migrate_plan');
      expect(plan.isError ?? false).toBe(false);
      expect(plan.structuredContent).toMatchObject({
        kind: 'migration',
        dryRun: true,
        tables: { resources: { toCopy: 8 }, capabilities: { toCopy: 16 } },
        actor: 'runner',
      });
      const planId = plan.structuredContent.planId as string;
      expect(planId).toMatch(/^[0-9a-f]{32}$/);
      expect(textOf(plan)).toContain(`planId "${planId}"`);
      expectJsonPart(plan);

      const refused = await call(runner, 'apply', { operation: 'migrate', planId });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toContain('lacks the "apply" scope');
      expect(refused.structuredContent).toMatchObject({ status: 403, title: 'Forbidden' });
      const { rows } = await served.t.db.query<{ v2: string | null }>(`SELECT to_regclass('resources')::text AS v2`);
      expect(rows[0]!.v2).toBeNull(); // nothing was created, let alone copied

      const applier = await served.client('applier');
      const applied = await call(applier, 'apply', { operation: 'migrate', planId });
      expect(applied.isError ?? false).toBe(false);
      expect(applied.structuredContent).toMatchObject({
        kind: 'migration',
        status: 'succeeded',
        dryRun: false,
        planId,
        actor: 'applier',
        tables: { resources: { copied: 8 }, capabilities: { copied: 16 } },
      });

      // The plan is spent: the database no longer matches it, and the API says so.
      const again = await call(applier, 'apply', { operation: 'migrate', planId });
      expect(again.isError).toBe(true);
      expect(again.structuredContent).toMatchObject({ status: 409, title: 'The plan is stale', planId });

      const validation = await call(runner, 'validate');
      expect(validation.isError ?? false).toBe(false);
      const report = validation.structuredContent;
      expect(report).toMatchObject({ kind: 'validation', status: 'passed', exitCode: 0, mode: 'full' });
      const fidelity = (report.checks as { name: string; details: object }[]).find(
        (c) => c.name === 'data.servers_fidelity',
      );
      expect(fidelity!.details).toMatchObject({ v1_rows: 8, matched: 8, missing: 0, changed: 0 });
      expect(textOf(validation)).toMatch(new RegExp(`^validation passed: .+ Report ${report.id}\\. Exit code 0\\.`));

      const reader = await served.client('reader');
      const read = await call(reader, 'get_report', { id: report.id });
      expect(read.structuredContent).toEqual(report);
      const listed = await call(reader, 'list_reports', { kind: 'migration' });
      expect(listed.structuredContent.items.map((r: { id: string }) => r.id)).toEqual([
        applied.structuredContent.id,
        plan.structuredContent.id,
      ]);
      expect(textOf(listed)).toContain('2 reports, newest first');

      const unread = await call(runner, 'get_report', { id: report.id });
      expect(unread.isError).toBe(true);
      expect(textOf(unread)).toContain('lacks the "read" scope');
    });

    it("rolls back on a plan, checks a restore of the rollback's rows, and restores them exactly", async () => {
      const served = await serveApp(await fresh(target));
      const applier = await served.client('applier');
      const migratePlan = await call(applier, 'migrate_plan');
      await call(applier, 'apply', { operation: 'migrate', planId: migratePlan.structuredContent.planId });
      const count = async () =>
        (await served.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM capabilities')).rows[0]!.n;
      expect(await count()).toBe(16);
      const rollbackPlan = await call(applier, 'rollback_plan');
      const rolledBack = await call(applier, 'apply', {
        operation: 'rollback',
        planId: rollbackPlan.structuredContent.planId,
      });
      expect(rolledBack.structuredContent).toMatchObject({ kind: 'rollback', status: 'succeeded', dryRun: false });
      expect(await count()).toBe(0);
      const rollbackReportId = rolledBack.structuredContent.id as string;

      // Without the id, the door refuses before the API: nothing to check against.
      const bare = await call(applier, 'apply', { operation: 'restore' });
      expect(bare.isError).toBe(true);
      expect(textOf(bare)).toMatch(/rollbackReportId/);
      const runner = await served.client('runner');
      const unscoped = await call(runner, 'restore_plan', { rollbackReportId });
      expect(unscoped.isError).toBe(true);
      expect(textOf(unscoped)).toContain('lacks the "apply" scope');

      const check = await call(applier, 'restore_plan', { rollbackReportId });
      expect(check.isError ?? false).toBe(false);
      expect(check.structuredContent).toMatchObject({
        kind: 'restore',
        dryRun: true,
        rollbackReportId,
        tables: { resources: { colliding: 0 }, capabilities: { colliding: 0 } },
      });
      expect(await count()).toBe(0); // a dry run

      const restored = await call(applier, 'apply', { operation: 'restore', rollbackReportId });
      expect(restored.isError ?? false).toBe(false);
      expect(restored.structuredContent).toMatchObject({ kind: 'restore', status: 'succeeded', dryRun: false });
      expect(await count()).toBe(16);
      const validation = await call(runner, 'validate');
      expect(validation.structuredContent).toMatchObject({ status: 'passed', exitCode: 0 });

      // Again: every row would collide, and the API's 409 comes back as the tool's error.
      const twice = await call(applier, 'apply', { operation: 'restore', rollbackReportId });
      expect(twice.isError).toBe(true);
      expect(twice.structuredContent).toMatchObject({ status: 409 });
      expect(await count()).toBe(16);
    });

    it('answers a run asked to respond async with its id and progress, which get_report follows', async () => {
      const served = await serveApp(await fresh(target));
      const runner = await served.client('admin');
      const started = await call(runner, 'migrate_plan', { respondAsync: true });
      expect(started.structuredContent).toMatchObject({ kind: 'migration', status: 'running' });
      const id = started.structuredContent.id as string;
      expect(textOf(started)).toContain(`Running: migration report ${id}.`);
      await served.app.settle();
      const ended = await call(runner, 'get_report', { id });
      expect(ended.structuredContent).toMatchObject({ id, status: 'succeeded', dryRun: true });
    });

    it('takes notify on an async tool call: the end is POSTed signed to it, and recorded', async () => {
      const receiver = await startReceiver();
      cleanups.push(() => receiver.close());
      const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
      const served = await serveApp(await fresh(target), { allowPrivate: true, backoffMs: 20, secret });
      const runner = await served.client('runner');
      const started = await call(runner, 'validate', { mode: 'schema', respondAsync: true, notify: receiver.url() });
      const id = started.structuredContent.id as string;
      const got = await receiver.waitFor(() => true);
      const headers = {
        'webhook-id': got.headers['webhook-id']!,
        'webhook-timestamp': got.headers['webhook-timestamp']!,
        'webhook-signature': got.headers['webhook-signature']!,
      };
      expect(new Webhook(secret).verify(got.raw, headers)).toMatchObject({ data: { id, kind: 'validation' } });
      await served.app.settle();
      const report = await served.app.store.get(id as never);
      expect(report!.notifications).toEqual([expect.objectContaining({ channel: 'webhook', delivered: true })]);
    });
  });
}

describe('/mcp refusals', () => {
  it('answers a missing or unknown token with a 401 problem before MCP sees the request', async () => {
    const served = await serveApp(await fresh(TARGETS[0]!));
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    for (const authorization of [undefined, 'Bearer smk_not-a-token']) {
      const response = await fetch(served.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          ...(authorization ? { Authorization: authorization } : {}),
        },
        body: JSON.stringify(initialize),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="sark-migrate"/);
      expect(await response.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
    const client = new Client({ name: 'intruder', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(served.url, {
      requestInit: { headers: { Authorization: 'Bearer smk_not-a-token' } },
    });
    await expect(client.connect(transport)).rejects.toThrow(/401/);
  });

  it('refuses bad arguments as tool errors: the schema in the client, the API beyond it', async () => {
    const served = await serveApp(await fresh(TARGETS[0]!));
    const runner = await served.client('runner');
    const badMode = await call(runner, 'validate', { mode: 'deep' });
    expect(badMode.isError).toBe(true);
    expect(textOf(badMode)).toMatch(/mode/);
    const noPlan = await call(runner, 'apply', { operation: 'rollback' });
    expect(noPlan.isError).toBe(true);
    expect(textOf(noPlan)).toMatch(/planId/);
    const missing = await call(runner, 'benchmark', { baselineReportId: '019ab8f2-6c1e-7d3a-9f21-4c8e2b7a1d05' });
    expect(missing.isError).toBe(true);
    expect(missing.structuredContent).toMatchObject({ status: 404, title: 'Not found' });
    const ended = await call(runner, 'validate', { mode: 'schema' });
    const cancelled = await call(runner, 'cancel', { id: ended.structuredContent.id });
    expect(cancelled.isError).toBe(true);
    expect(cancelled.structuredContent).toMatchObject({ status: 409, title: 'The run has ended' });
  });

  it('has no event stream and no session: GET and DELETE answer 405 problems', async () => {
    const served = await serveApp(await fresh(TARGETS[0]!));
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(served.url, {
        method,
        headers: { Authorization: `Bearer ${served.app.tokens.reader}`, Accept: 'text/event-stream' },
      });
      expect(response.status).toBe(405);
      expect(response.headers.get('Allow')).toBe('POST');
      expect(await response.json()).toMatchObject({ status: 405, title: 'Method not allowed' });
    }
  });
});
