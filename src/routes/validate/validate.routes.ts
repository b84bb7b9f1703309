import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { VALIDATION_MODES } from '../../operations/validate.js';
import { reportSchema } from '../../reports/schemas.js';
import { acceptedResponse, bearerSecurity, operationProblems, preferHeaders } from '../shared.js';

export const validateBodySchema = z
  .strictObject({
    mode: z.enum(VALIDATION_MODES).default('full').openapi({
      description:
        '`quick`: schema, relationships and business rules; `full`: everything, row-level fidelity included; or one group.',
    }),
    sampleSize: z.number().int().min(1).max(1000).default(10).openapi({ description: 'Ids listed per failed check.' }),
  })
  .openapi('ValidateRequest');

const checkSchema = z
  .object({
    name: z.string().openapi({ example: 'data.servers_fidelity' }),
    severity: z
      .enum(['critical', 'error', 'warning', 'info'])
      .openapi({ description: 'How much it matters when it fails.' }),
    passed: z.boolean(),
    skipped: z.boolean().optional().openapi({
      description: 'The check could not look (its tables are missing, or v1 is gone); severity is then info.',
    }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
    sample: z.array(z.string()).openapi({ description: 'Ids (or names) of offending rows, up to sampleSize.' }),
  })
  .openapi('Check');

export const validationReportSchema = reportSchema
  .extend({
    kind: z.literal('validation'),
    status: z.enum(['passed', 'failed', 'critical', 'running']),
    exitCode: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .openapi({ description: '2: a critical check failed; 1: an error check failed; 0: otherwise.' }),
    mode: z.enum(VALIDATION_MODES),
    v1Shape: z.enum(['orm', 'migration']).nullable(),
    checks: z.array(checkSchema),
  })
  .openapi('ValidationReport');

export const postValidate = createRoute({
  method: 'post',
  path: '/validate',
  operationId: 'validate',
  tags: ['Operations'],
  summary: 'Check the v2 schema, every migrated row field by field, relationships and business rules',
  description:
    'Runs the checks of `mode` in one read-only snapshot with a statement timeout. A failed check is a finding in the 200 report (with severity, counts and offending ids), never an error; `status` and `exitCode` summarise them for CI.',
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
