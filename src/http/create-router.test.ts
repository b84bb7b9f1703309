import { createRoute, z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { createRouter } from './create-router.js';

// The shared validation hook, on a route of its own: every router made by createRouter answers alike.
const echo = createRoute({
  method: 'post',
  path: '/echo',
  request: {
    body: {
      content: {
        'application/json': {
          schema: z.strictObject({
            dryRun: z.boolean().optional(),
            nested: z.strictObject({ n: z.number().int() }).optional(),
            labels: z.record(z.string(), z.string().max(3)).optional(),
          }),
        },
      },
    },
  },
  responses: { 200: { description: 'ok' } },
});
const app = createRouter().openapi(echo, (c) => c.json(c.req.valid('json'), 200));
const post = (body: unknown) =>
  app.request('/echo', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

describe('validation hook', () => {
  it('names every bad and every unknown field, nested ones dotted', async () => {
    const res = await post({ dryRun: 'yes', nested: { n: 1.5, m: 1 }, extra: true });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = await res.json();
    expect(body).toMatchObject({ type: 'urn:sark-migrate:problem:bad-request', status: 400, title: 'Bad request' });
    expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'dryRun',
      'extra',
      'nested.m',
      'nested.n',
    ]);
    expect(body.errors.every((e: { in: string }) => e.in === 'body')).toBe(true);
  });

  it('names an empty key as such, wherever it stands', async () => {
    const res = await post({ labels: { '': 'too long', ok: 'a' }, nested: { '': 1, n: 1 } });
    expect(res.status).toBe(400);
    const fields = (await res.json()).errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['labels.(empty key)', 'nested.(empty key)']);
  });

  it('lets valid input through untouched', async () => {
    const res = await post({ dryRun: true, nested: { n: 2 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ dryRun: true, nested: { n: 2 } });
  });
});
