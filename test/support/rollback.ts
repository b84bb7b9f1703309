import { expect } from 'vitest';
import type { TestApp } from './app.js';
import type { DatabaseTarget, TestDatabase } from './databases.js';
import { migrated } from './migrated.js';

/** The /rollback suites' database at cutover, what they compare, and a run. */
export const BORN = '0b0b0b0b-0000-4000-8000-000000000001';
export const BORN_TOOL = '0b0b0b0b-0000-4000-8000-000000000002';

/** Migrated v1 (6 servers × 2 tools unless told) plus v2-only rows: an HTTP resource with a capability, cost, federation and budget rows. */
export function cutover<T>(
  target: DatabaseTarget,
  work: (t: TestDatabase, app: TestApp) => Promise<T>,
  size = { servers: 6, toolsPerServer: 2 },
) {
  return migrated(
    target,
    async (t, app) => {
      await t.db.query(
        `INSERT INTO resources (id, name, protocol, endpoint) VALUES ('http-1', 'billing api', 'http', 'https://billing'), ('grpc-1', 'ledger', 'grpc', 'grpc://ledger')`,
      );
      await t.db.query(
        `INSERT INTO capabilities (id, resource_id, name) VALUES ('http-1-get', 'http-1', 'get invoice')`,
      );
      await t.db.query(
        `INSERT INTO cost_tracking (principal_id, resource_id, capability_id, estimated_cost) SELECT 'alice', resource_id, id, 0.5 FROM capabilities`,
      );
      await t.db.query(
        `INSERT INTO federation_nodes (id, node_id, name, endpoint, trust_anchor_cert) VALUES (gen_random_uuid(), 'n1', 'peer', 'https://peer', 'cert')`,
      );
      await t.db.query(`INSERT INTO principal_budgets (principal_id, daily_budget) VALUES ('alice', 10)`);
      return work(t, app);
    },
    size,
  );
}

export const snapshot = async (t: TestDatabase) =>
  (
    await t.db.query<Record<string, number>>(`SELECT
      (SELECT count(*)::int FROM mcp_servers) AS servers, (SELECT count(*)::int FROM mcp_tools) AS tools,
      (SELECT count(*)::int FROM resources WHERE protocol = 'mcp') AS mcp, (SELECT count(*)::int FROM resources WHERE protocol <> 'mcp') AS other,
      (SELECT count(*)::int FROM capabilities) AS capabilities, (SELECT count(*)::int FROM cost_tracking) AS costs,
      (SELECT count(*)::int FROM federation_nodes) AS nodes, (SELECT count(*)::int FROM principal_budgets) AS budgets,
      (SELECT md5(string_agg(s::text, ',' ORDER BY s.id)) FROM mcp_servers s) AS v1_servers,
      (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM mcp_tools t) AS v1_tools`)
  ).rows[0]!;

/** The planId of a dry run over the same scope as `body`, as a user gets it before a run. */
export const planIdFor = async (app: Pick<TestApp, 'call'>, body: object = {}): Promise<string> => {
  const plan = await app.call('POST', '/rollback', { body: { ...body, dryRun: true } });
  expect(plan.status, await plan.clone().text()).toBe(200);
  return (await plan.json()).planId;
};

/** A run on the plan of a dry run made just before it. */
export const run = async (app: TestApp, body: object) => {
  const planId = 'planId' in body ? undefined : await planIdFor(app, body);
  const res = await app.call('POST', '/rollback', { body: { dryRun: false, ...(planId ? { planId } : {}), ...body } });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
};
