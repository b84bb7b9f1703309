import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { SAMPLE_SERVERS_DEFAULT } from '../../operations/preflight/estimate.js';
import { preflightReportSchema } from '../../reports/preflight.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

const price = (description: string) => z.number().min(0).max(1000).optional().openapi({ description });

export const preflightBodySchema = z
  .strictObject({
    sampleServers: z.number().int().min(0).max(20_000).default(SAMPLE_SERVERS_DEFAULT).openapi({
      description:
        'Servers (with their tools) the estimate copies in a transaction that is rolled back; 0: no estimate.',
    }),
    longTransactionSeconds: z.number().int().min(1).max(86_400).default(60).openapi({
      description: 'A transaction another session has held open longer than this fails activity.long_transactions.',
    }),
    neon: z
      .strictObject({
        computeCu: z
          .number()
          .min(0.25)
          .max(64)
          .optional()
          .openapi({ description: 'Compute size in CU (NEON_COMPUTE_CU).' }),
        cuHourUsd: price('USD per CU-hour (NEON_CU_HOUR_USD).'),
        storageGbMonthUsd: price('USD per GB-month of storage (NEON_STORAGE_GB_MONTH_USD).'),
      })
      .optional()
      .openapi({
        description:
          "The database is Neon's (the Neon driver says so too): the estimate adds a cost, at these prices over the configured ones and the defaults (docs/preflight.md).",
      }),
    notify: notifyField,
  })
  .openapi('PreflightRequest');

export const postPreflight = createRoute({
  method: 'post',
  path: '/preflight',
  operationId: 'preflight',
  tags: ['Operations'],
  summary: "The runbook's pre-migration checklist, and an estimate of the migration's duration, size and cost",
  description: [
    'Checks with severities, like /validate, in one read-only snapshot: server version and extensions, the v1',
    'shape, the v2 tables, sizes, long transactions and locks on the tables, replication slots, dead tuples,',
    "free connections, the session's statement_timeout, a pooler. Then an estimate: a sample of the migration",
    "copied with /migrate's own statement in a transaction that is rolled back, timed, extrapolated. Changes no row.",
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: preflightBodySchema } } },
  },
  responses: {
    200: {
      description: 'The preflight report (also stored).',
      content: { 'application/json': { schema: preflightReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
