import { describe, expect, inject, it } from 'vitest';
import { fetchWorker } from './harness.js';

const { runToken } = inject('sarkWorkers');

describe('POST /validate on the Worker', () => {
  it('runs the quick checks through the Neon driver in a read-only snapshot', async () => {
    const response = await fetchWorker('/validate', {
      method: 'POST',
      body: JSON.stringify({ mode: 'quick' }),
      headers: { Authorization: `Bearer ${runToken}`, 'Content-Type': 'application/json' },
    });
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      kind: string;
      mode: string;
      exitCode: number;
      checks: { name: string; passed: boolean }[];
    };
    expect(report).toMatchObject({ kind: 'validation', mode: 'quick', exitCode: 0 });
    expect(report.checks.find((c) => c.name === 'schema.tables_exist')).toMatchObject({ passed: true });
    expect(report.checks.some((c) => c.name.startsWith('data.'))).toBe(false);
  });
});
