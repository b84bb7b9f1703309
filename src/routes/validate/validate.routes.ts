import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { VALIDATION_MODES, validationReportSchema } from '../../reports/validation.js';
import { acceptedResponse, bearerSecurity, notifyField, operationProblems, preferHeaders } from '../shared.js';

export const validateBodySchema = z
  .strictObject({
    mode: z
      .enum(VALIDATION_MODES)
      .default('full')
      .openapi({
        description: [
          '`quick`: schema, relationships and business rules; `full`: everything, row-level fidelity included;',
          'or one group.',
        ].join(' '),
      }),
    sampleSize: z.number().int().min(1).max(1000).default(10).openapi({ description: 'Ids listed per failed check.' }),
    notify: notifyField,
  })
  .openapi('ValidateRequest');

export const postValidate = createRoute({
  method: 'post',
  path: '/validate',
  operationId: 'validate',
  tags: ['Operations'],
  summary: 'Check the v2 schema, every migrated row field by field, relationships and business rules',
  description: [
    'Runs the checks of `mode` in one read-only snapshot with a statement timeout. A failed check is a',
    'finding in the 200 report (with severity, counts and offending ids), never an error; `status` and',
    '`exitCode` summarise them for CI.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('run')] as const,
  request: {
    headers: preferHeaders,
    body: { required: false, content: { 'application/json': { schema: validateBodySchema } } },
  },
  responses: {
    200: {
      description: 'The validation report (also stored).',
      content: { 'application/json': { schema: validationReportSchema } },
    },
    202: acceptedResponse,
    ...operationProblems,
  },
});
