import { describe, expect, inject, it } from 'vitest';
import { fetchWorker } from './harness.js';

const { runToken } = inject('sarkWorkers');

const post = (body: object, token = runToken) =>
  fetchWorker('/optimize', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  });

describe('POST /optimize on the Worker', () => {
  it('lists the v2 indexes with their flags, and plans without HypoPG by saying why', async () => {
    const analyzed = (await (await post({ action: 'analyze' })).json()) as {
      action: string;
      indexes: { name: string; flags: string[] }[];
    };
    expect(analyzed.action).toBe('analyze');
    expect(analyzed.indexes.map((i) => i.name)).toEqual(
      expect.arrayContaining(['resources_pkey', 'ix_resources_metadata_gin', 'ix_capabilities_resource']),
    );

    const planned = (await (await post({ action: 'plan', indexes: ['ix_capabilities_input_schema_type'] })).json()) as {
      recommendations: { name: string; priority: string; evaluation: { method: string; reason?: string } }[];
    };
    expect(planned.recommendations).toEqual([
      expect.objectContaining({
        name: 'ix_capabilities_input_schema_type',
        priority: 'unknown',
        evaluation: expect.objectContaining({ method: 'unevaluated', reason: expect.stringMatching(/HypoPG/) }),
      }),
    ]);
  });

  it('refuses apply to a token without the apply scope', async () => {
    expect((await post({ action: 'apply', indexes: ['ix_capabilities_input_schema_type'] })).status).toBe(403);
  });
});
