import { describe, expect, inject, it } from 'vitest';
import { fetchWorker, untilEnded } from './harness.js';

const { runToken, adminToken, readToken } = inject('sarkWorkers');

const post = (body: object, token = runToken, headers: Record<string, string> = {}) =>
  fetchWorker('/optimize', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
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

  it("applies the current plan's high- and medium-priority indexes when none are named, in a Workflow", async () => {
    const accepted = await post({ action: 'apply', iterations: 2, warmup: 1 }, adminToken, { Prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const final = (await untilEnded(accepted.headers.get('Location')!, readToken)) as {
      status: string;
      summary: { message: string; recommended: string[] };
      selection: { from: string; chosen: { name: string }[]; passedOver: { name: string; reason: string }[] };
      applied: { name: string; status: string }[];
    };
    expect(final).toMatchObject({ status: 'succeeded', selection: { from: 'plan' } });
    // The plan was a step of its own: what it chose is what was built.
    expect(final.applied.map((a) => [a.name, a.status])).toEqual(final.selection.chosen.map((c) => [c.name, 'built']));
    expect(final.summary.recommended).toEqual(final.selection.chosen.map((c) => c.name));
    if (final.selection.chosen.length === 0) expect(final.summary.message).toMatch(/nothing to apply/);
    expect(final.selection.passedOver.every((c) => c.reason.length > 0)).toBe(true);
  });
});
