import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** RFC 9457 problem details, the body of every error answer. */
export const fieldErrorSchema = z
  .object({
    field: z.string().openapi({
      description: 'The offending field, dotted for nested ones; `(body)` for the body as a whole.',
      example: 'limit',
    }),
    in: z.enum(['body', 'query', 'path', 'header']),
    message: z.string(),
  })
  .openapi('FieldError');
export type FieldError = z.infer<typeof fieldErrorSchema>;

export const problemSchema = z
  .looseObject({
    type: z.string().openapi({ example: 'urn:sark-migrate:problem:bad-request' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    requestId: z.string().optional(),
    errors: z.array(fieldErrorSchema).optional(),
  })
  .openapi('Problem');
export type Problem = z.infer<typeof problemSchema>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemInput {
  status: ContentfulStatusCode;
  slug: string;
  title: string;
  detail: string;
  errors?: FieldError[];
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function problemResponse(c: Context, input: ProblemInput): Response {
  const body: Problem = {
    type: `urn:sark-migrate:problem:${input.slug}`,
    title: input.title,
    status: input.status,
    detail: input.detail,
    ...(c.get('requestId') ? { requestId: c.get('requestId') as string } : {}),
    ...(input.errors ? { errors: input.errors } : {}),
    ...input.extensions,
  };
  return c.body(JSON.stringify(body), input.status, { 'Content-Type': PROBLEM_CONTENT_TYPE, ...input.headers });
}

/** OpenAPI response entries for the errors a route can answer. */
export function problemResponses<const S extends readonly number[]>(...statuses: S) {
  const descriptions: Record<number, string> = {
    400: 'Bad input: `errors` names each offending field.',
    401: 'No bearer token, or an unknown one.',
    403: 'The token lacks the scope this operation needs.',
    404: 'No such resource.',
    409: 'Another changing operation holds the database, or a plan is stale.',
    413: 'The body is larger than 1 MB.',
    415: 'The body is not `application/json`.',
    422: 'The database does not have a schema the operation can work on; `missing` names what lacks.',
    503: 'The database is unreachable, or the service is not configured.',
  };
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: descriptions[status] ?? 'Error.', content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } } },
    ]),
  ) as {
    [K in S[number]]: {
      description: string;
      content: { 'application/problem+json': { schema: typeof problemSchema } };
    };
  };
}
