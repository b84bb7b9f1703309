import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { problemResponses } from '../../http/problems.js';
import { REHEARSE_DEFAULTS } from '../../operations/rehearse.js';
import { rehearsalReportSchema } from '../../reports/rehearsal.js';
import { acceptedResponse, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const rehearseBodySchema = z
  .strictObject({
    keep: z.boolean().default(REHEARSE_DEFAULTS.keep).openapi({
      description:
        "Keep the copy afterwards (a TEMPLATE copy's database, a Neon branch; not an in-memory PGlite clone): the report's `copy.reach` says where it is, without credentials. Drop it yourself when done.",
    }),
    benchmark: z
      .strictObject({
        iterations: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(REHEARSE_DEFAULTS.iterations)
          .openapi({ description: 'Timed runs per pattern.' }),
        warmup: z
          .number()
          .int()
          .min(0)
          .max(20)
          .default(REHEARSE_DEFAULTS.warmup)
          .openapi({ description: 'Untimed runs per pattern first.' }),
      })
      .default({ iterations: REHEARSE_DEFAULTS.iterations, warmup: REHEARSE_DEFAULTS.warmup })
      .openapi({ description: "The benchmark step's runs (all eight patterns, default parameters)." }),
    notify: notifyField,
  })
  .openapi('RehearseRequest');

export const postRehearse = createRoute({
  method: 'post',
  path: '/rehearse',
  operationId: 'rehearse',
  tags: ['Operations'],
  summary: 'Rehearse the cutover on a throwaway copy: migrate, validate, benchmark, roll back, validate',
  description: [
    'Copies the database (PostgreSQL: CREATE DATABASE ... TEMPLATE; the embedded database: a PGlite clone; Neon: a',
    'branch) and runs the cutover on the copy, never on the database itself: migrate, validate (full), benchmark,',
    'a rollback dry run and the rollback on its planId, validate (quick), and checks that v1 came back exactly. Each',
    "step's full report is stored under its own id and held in the rehearsal's `steps`. The copy is dropped at the",
    'end, whatever happened, unless `keep`. Refused with 409 `copy-refused` when the copy cannot be made (other',
    'sessions on a TEMPLATE source, saying which), or `operation-in-progress` while a changing run holds the database.',
  ].join(' '),
  // The role the token needs, in the document too (OpenAPI 3.1 lets a bearer requirement list roles).
  security: [{ bearerAuth: ['apply'] }],
  middleware: [requireScope('apply')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: rehearseBodySchema } } },
  },
  responses: {
    200: {
      description: "The rehearsal report (also stored), with each step's report.",
      content: { 'application/json': { schema: rehearsalReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
    ...problemResponses(499),
  },
});
