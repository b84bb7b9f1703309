import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { fetchWorker, problemOf } from './harness.js';

const { runToken } = inject('sarkWorkers');

const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

/** The SDK's own client, its every request delivered to the Worker's fetch handler. */
async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'sark-migrate-workers-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('https://sark-migrate.test/mcp'), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: (url, init) => fetchWorker(new URL(url).pathname, init),
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

type Result = CallToolResult & { structuredContent: Record<string, unknown> };

describe('/mcp on the Worker', () => {
  it('lists the tools and validates through the Neon driver', async () => {
    const client = await connect(runToken);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
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
    expect(tools.find((t) => t.name === 'apply')!.annotations).toMatchObject({ destructiveHint: true });

    const result = (await client.callTool({ name: 'validate', arguments: { mode: 'quick' } })) as Result;
    expect(result.isError ?? false).toBe(false);
    expect(result.structuredContent).toMatchObject({
      kind: 'validation',
      mode: 'quick',
      exitCode: 0,
      actor: 'workers-run',
    });
    const checks = result.structuredContent.checks as { name: string; passed: boolean }[];
    expect(checks.find((c) => c.name === 'schema.tables_exist')).toMatchObject({ passed: true });
  });

  it('plans a migration, and refuses to apply it for a token without apply', async () => {
    const client = await connect(runToken);
    const plan = (await client.callTool({ name: 'migrate_plan', arguments: {} })) as Result;
    expect(plan.structuredContent).toMatchObject({
      kind: 'migration',
      dryRun: true,
      tables: { resources: { planned: 20 } },
    });
    const planId = plan.structuredContent.planId as string;
    expect(planId).toMatch(/^[0-9a-f]{32}$/);
    const refused = (await client.callTool({ name: 'apply', arguments: { operation: 'migrate', planId } })) as Result;
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ status: 403 });
    expect(JSON.stringify(refused.content)).toContain('lacks the \\"apply\\" scope');
  });

  it('answers an unknown token with a 401 problem', async () => {
    const response = await fetchWorker('/mcp', {
      method: 'POST',
      headers: { Authorization: 'Bearer smk_not-a-token', 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    await problemOf(response, 401);
  });
});
