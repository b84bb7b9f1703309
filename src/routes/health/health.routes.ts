import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../../http/problems.js';

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    runtime: z.enum(['node', 'workers']),
    check: z.enum(['liveness', 'deep']).openapi({
      description: [
        '`liveness` (no token): the service answers, and nothing else was checked or is shown.',
        '`deep` (a token of any scope): the database, the schemas and the report store as well, probed at most',
        'once every 5 s per process or isolate (`checkedAt` says when), however many ask.',
      ].join(' '),
    }),
    database: z
      .object({
        reachable: z.boolean(),
        driver: z.enum(['pg', 'neon', 'pglite']),
        serverVersion: z.string().nullable(),
        latencyMs: z.number().nullable(),
      })
      .optional(),
    schemas: z
      .object({
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
      })
      .optional(),
    storage: z.object({ ok: z.boolean() }).optional(),
    checkedAt: z.string().optional().openapi({ description: 'When the deep probe behind this answer ran.' }),
  })
  .openapi('Health');

export const getHealth = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getHealth',
  security: [{}, { bearerAuth: [] }],
  tags: ['Service'],
  summary: 'Is the service able to work?',
  description: [
    'Without a token: liveness only (the service answers), which touches neither the database nor the store,',
    "so anonymous traffic cannot take SARK's connections. With a token of any scope: database reachability and",
    'server version, which SARK schema versions are present, and whether the report store answers, from a probe',
    'shared for 5 s; 503 (problem+json carrying the same fields) when the database or the store is unreachable.',
    'Shows no secret.',
  ].join(' '),
  responses: {
    200: {
      description: 'Database and report store both answer.',
      content: { 'application/json': { schema: healthSchema } },
    },
    ...problemResponses(401, 503),
  },
});
