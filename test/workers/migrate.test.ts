import { describe, expect, inject, it } from 'vitest';
import { fetchWorker, problemOf, untilEnded } from './harness.js';

const { runToken, adminToken, readToken, realPostgres } = inject('sarkWorkers');

const post = (token: string, body: unknown, headers: Record<string, string> = {}) =>
  fetchWorker('/migrate', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
  });

describe('POST /migrate on the Worker', () => {
  it('plans a dry run through the Neon driver and stores the report in R2', async () => {
    const response = await post(runToken, {});
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      id: string;
      kind: string;
      dryRun: boolean;
      tables: { resources: { planned: number } };
    };
    expect(report).toMatchObject({
      kind: 'migration',
      dryRun: true,
      actor: 'workers-run',
      tables: { resources: { planned: 20 }, capabilities: { planned: 60 } },
    });
    const stored = await fetchWorker(`/reports/${report.id}`, { headers: { Authorization: `Bearer ${readToken}` } });
    expect(await stored.json()).toEqual(report);
  });

  it('refuses a real run to a token without apply', async () => {
    await problemOf(await post(runToken, { dryRun: false }), 403);
  });

  it('migrates in a Workflow after 202, then the stored report is final', async () => {
    // One stream on PGlite: pglite-socket multiplexes every connection onto one backend.
    const accepted = await post(
      adminToken,
      { dryRun: false, batchSize: 6, parallelism: realPostgres ? 2 : 1 },
      { Prefer: 'respond-async' },
    );
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('Location')!;
    const final = await untilEnded(location, readToken);
    expect(final).toMatchObject({ status: 'succeeded', dryRun: false, progress: { done: 4, total: 4 } });
    const tables = final.tables as Record<string, { copied: number; alreadyPresent: number }>;
    expect(tables.resources!.copied + tables.resources!.alreadyPresent).toBe(20);
    expect(tables.capabilities!.copied + tables.capabilities!.alreadyPresent).toBe(60);
  });
});
