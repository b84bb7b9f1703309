import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../../http/problems.js';

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    runtime: z.enum(['node', 'workers']),
    database: z.object({
      reachable: z.boolean(),
      driver: z.enum(['pg', 'neon', 'pglite']),
      serverVersion: z.string().nullable(),
      latencyMs: z.number().nullable(),
    }),
    schemas: z.object({
      v1: z.boolean().openapi({ description: 'mcp_servers and mcp_tools exist.' }),
      v2: z.boolean().openapi({ description: 'All five v2 tables exist.' }),
      tables: z.record(z.string(), z.boolean()),
      service: z.object({ name: z.string(), current: z.boolean(), pending: z.array(z.string()) }).openapi({
        description: [
          "The service's own schema (the migration ledger and the rollback archive): brought up to date at",
          'start-up on Node and at the first use of the database on Workers; `pending` names the migrations',
          'it still lacks.',
        ].join(' '),
      }),
    }),
    storage: z.object({ ok: z.boolean() }),
  })
  .openapi('Health');

export const getHealth = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getHealth',
  security: [],
  tags: ['Service'],
  summary: 'Is the service able to work?',
  description: [
    'Database reachability and server version, which SARK schema versions are present, and whether the report',
    'store answers. Needs no token and shows no secret. Answers 503 (problem+json carrying the same fields)',
    'when the database or the store is unreachable.',
  ].join(' '),
  responses: {
    200: {
      description: 'Database and report store both answer.',
      content: { 'application/json': { schema: healthSchema } },
    },
    ...problemResponses(503),
  },
});
