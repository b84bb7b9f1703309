import { describe, expect, inject, it } from 'vitest';
import { fetchWorker } from './harness.js';

const { runToken, readToken } = inject('sarkWorkers');

describe('POST /benchmark on the Worker', () => {
  it('times patterns through the Neon driver, walks their plans and keeps the report in R2', async () => {
    const response = await fetchWorker('/benchmark', {
      method: 'POST',
      body: JSON.stringify({
        patterns: ['list_resources_by_protocol', 'count_capabilities_per_protocol'],
        iterations: 3,
        warmup: 1,
      }),
      headers: { Authorization: `Bearer ${runToken}`, 'Content-Type': 'application/json' },
    });
    expect(response.status).toBe(200);
    type Result = {
      pattern: string;
      p50Ms: number;
      p95Ms: number;
      serverMs: { p50: number };
      plan: { scans: unknown[] };
    };
    const report = (await response.json()) as { id: string; kind: string; status: string; results: Result[] };
    expect(report).toMatchObject({ kind: 'benchmark', status: 'succeeded' });
    expect(report.results.map((r) => r.pattern)).toEqual([
      'list_resources_by_protocol',
      'count_capabilities_per_protocol',
    ]);
    for (const r of report.results) {
      expect(r.p50Ms).toBeLessThanOrEqual(r.p95Ms);
      expect(r.serverMs.p50).toBeGreaterThanOrEqual(0);
      expect(r.plan.scans.length).toBeGreaterThan(0);
    }
    const stored = await fetchWorker(`/reports/${report.id}`, { headers: { Authorization: `Bearer ${readToken}` } });
    expect(await stored.json()).toEqual(report);
  });
});
