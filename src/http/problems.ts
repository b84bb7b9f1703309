import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isServiceError, type ErrorKind } from '../errors.js';
import { LaunchedRunFailed } from '../operations/launch.js';
import { OperationFailedError } from '../operations/runner.js';

/**
 * Every error answer of the service: RFC 9457 problem details, made here and only here. The
 * table below is the one place where an error's kind becomes an HTTP status and a problem type.
 */

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

/** Problems only the HTTP layer raises: about the request itself, not about the work. */
type HttpKind =
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'method-not-allowed'
  | 'not-acceptable'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'unavailable'
  | 'internal-error';

interface ProblemType {
  status: ContentfulStatusCode;
  /** The last part of the problem's `type` URN. */
  slug: string;
  title: string;
  /** Sent as Retry-After: when trying again may succeed. */
  retryAfterS?: number;
}

const PROBLEM_TYPES: Record<ErrorKind | HttpKind, ProblemType> = {
  'lock-busy': { status: 409, slug: 'operation-in-progress', title: 'Another operation is running' },
  'lease-lost': { status: 409, slug: 'lease-lost', title: 'The run lost its lease' },
  'stale-plan': { status: 409, slug: 'stale-plan', title: 'The plan is stale' },
  'schema-conflict': { status: 409, slug: 'schema-conflict', title: 'Schema partly present' },
  'unsupported-v1-schema': { status: 422, slug: 'unsupported-v1-schema', title: 'Unsupported v1 schema' },
  'database-unavailable': {
    status: 503,
    slug: 'database-unavailable',
    title: 'Database unavailable',
    retryAfterS: 5,
  },
  'statement-timeout': { status: 503, slug: 'statement-timeout', title: 'Statement timeout' },
  'lock-timeout': { status: 409, slug: 'lock-timeout', title: 'Lock timeout' },
  'write-conflict': { status: 409, slug: 'write-conflict', title: 'Write conflict' },
  // A value the database refused came from the request (the schemas refuse what they can see): the client's to fix.
  'invalid-value': { status: 400, slug: 'invalid-value', title: 'Invalid value' },
  // A row the database refused conflicts with what is there (a unique key, a foreign key, a check).
  'constraint-violation': { status: 409, slug: 'constraint-violation', title: 'Constraint violation' },
  'archive-mismatch': { status: 409, slug: 'archive-mismatch', title: 'Archive export does not match' },
  'run-ended': { status: 409, slug: 'run-ended', title: 'The run has ended' },
  cancelled: { status: 499 as ContentfulStatusCode, slug: 'cancelled', title: 'Cancelled' },
  'not-configured': { status: 503, slug: 'not-configured', title: 'Service not configured' },
  'store-unavailable': { status: 503, slug: 'store-unavailable', title: 'Report store unavailable', retryAfterS: 10 },
  'read-only': { status: 503, slug: 'read-only', title: 'Database read-only' },
  'copy-refused': { status: 409, slug: 'copy-refused', title: 'The copy could not be made' },
  'too-many-runs': { status: 429, slug: 'too-many-runs', title: 'Too many runs', retryAfterS: 10 },
  'bad-request': { status: 400, slug: 'bad-request', title: 'Bad request' },
  unauthorized: { status: 401, slug: 'unauthorized', title: 'Unauthorized' },
  forbidden: { status: 403, slug: 'forbidden', title: 'Forbidden' },
  'not-found': { status: 404, slug: 'not-found', title: 'Not found' },
  'method-not-allowed': { status: 405, slug: 'method-not-allowed', title: 'Method not allowed' },
  'not-acceptable': { status: 406, slug: 'not-acceptable', title: 'Not acceptable' },
  'payload-too-large': { status: 413, slug: 'payload-too-large', title: 'Payload too large' },
  'unsupported-media-type': { status: 415, slug: 'unsupported-media-type', title: 'Unsupported Media Type' },
  unavailable: { status: 503, slug: 'unavailable', title: 'Service unavailable', retryAfterS: 5 },
  'internal-error': { status: 500, slug: 'internal-error', title: 'Internal error' },
};

/** A problem the HTTP layer answers with: about the request (a token, a field, a path). */
export class HttpProblem extends Error {
  constructor(
    readonly kind: HttpKind,
    detail: string,
    readonly extras: { errors?: FieldError[]; facts?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

interface Resolved {
  type: ProblemType;
  detail: string;
  errors?: FieldError[] | undefined;
  facts: Record<string, unknown>;
  headers: Record<string, string>;
  /** Not an expected failure: the caller logs it whole. */
  bug: boolean;
}

/** Retry-After for a problem whose type says when trying again may succeed. */
const retryAfter = (type: ProblemType): Record<string, string> =>
  type.retryAfterS ? { 'Retry-After': String(type.retryAfterS) } : {};

const INTERNAL_DETAIL = 'The operation failed unexpectedly; the service log has the details.';

/** What an error means for the client; anything unknown is a bug, answered without internals. */
function resolve(error: unknown): Resolved {
  if (error instanceof LaunchedRunFailed) {
    // A run that ended elsewhere (a Workflow) left only its report: the problem it recorded.
    const recorded = error.report.error!;
    const type =
      Object.values(PROBLEM_TYPES).find((t) => t.status === recorded.status && t.title === recorded.title) ??
      PROBLEM_TYPES['internal-error'];
    return {
      type,
      detail: recorded.detail,
      facts: { reportId: error.report.id },
      headers: retryAfter(type),
      bug: false,
    };
  }
  if (error instanceof OperationFailedError) {
    // The runner logged an unexpected failure with its report id already.
    const inner = resolve(error.cause);
    return { ...inner, bug: false, facts: { ...inner.facts, reportId: error.reportId } };
  }
  if (isServiceError(error)) {
    const type = PROBLEM_TYPES[error.kind];
    if (type.status === 500) return { type, detail: INTERNAL_DETAIL, facts: {}, headers: {}, bug: true };
    return { type, detail: error.message, facts: error.facts, headers: retryAfter(type), bug: false };
  }
  if (error instanceof HttpProblem) {
    const { errors, facts = {}, headers = {} } = error.extras;
    const type = PROBLEM_TYPES[error.kind];
    return { type, detail: error.message, errors, facts, headers: { ...retryAfter(type), ...headers }, bug: false };
  }
  if (error instanceof HTTPException && error.status === 400) {
    // Hono's JSON reader: the body is not JSON at all.
    const errors: FieldError[] = [{ field: '(body)', in: 'body', message: error.message }];
    return {
      type: PROBLEM_TYPES['bad-request'],
      detail: 'The request body is not valid JSON.',
      errors,
      facts: {},
      headers: {},
      bug: false,
    };
  }
  if (error instanceof HTTPException && error.status === 415) {
    const type = PROBLEM_TYPES['unsupported-media-type'];
    return { type, detail: `${type.title}: send the body as application/json.`, facts: {}, headers: {}, bug: false };
  }
  if (error instanceof HTTPException) {
    // Another of Hono's own refusals: its status, and its message as the title.
    const title = error.message || 'Error';
    const type = { status: error.status, slug: title.toLowerCase().replace(/[^a-z]+/g, '-'), title };
    return { type, detail: title, facts: {}, headers: {}, bug: false };
  }
  return { type: PROBLEM_TYPES['internal-error'], detail: INTERNAL_DETAIL, facts: {}, headers: {}, bug: true };
}

/** The answer to a failed request: problem+json, with the request id to quote. */
export function problemResponse(c: Context, error: unknown): Response {
  const requestId = c.get('requestId') as string | undefined;
  const problem = resolve(error);
  if (problem.bug) {
    console.error(`[${requestId}] unhandled error:`, error);
    problem.detail = `The service failed unexpectedly; quote request id ${requestId} when reporting it.`;
  } else if (problem.type.status >= 500) {
    console.error(`[${requestId}] ${problem.type.title}:`, (error as Error).cause ?? (error as Error).message);
  }
  // Facts go first: RFC 9457's own members (and the request id) are never overwritten by one.
  const body: Problem = {
    ...problem.facts,
    type: `urn:sark-migrate:problem:${problem.type.slug}`,
    title: problem.type.title,
    status: problem.type.status,
    detail: problem.detail,
    ...(requestId ? { requestId } : {}),
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
  return c.body(JSON.stringify(body), problem.type.status, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    ...problem.headers,
  });
}

/** How a stored report records the failure that ended its operation (`error` of a report). */
export function reportErrorOf(error: unknown): { status: number; title: string; detail: string } {
  const { type, detail } = resolve(error);
  return { status: type.status, title: type.title, detail };
}

/** OpenAPI response entries for the errors a route can answer. */
export function problemResponses<const S extends readonly number[]>(...statuses: S) {
  const descriptions: Record<number, string> = {
    400: 'Bad input: `errors` names each offending field. `invalid-value`: the database refused a value the request carried (`sqlstate` says why).',
    401: 'No bearer token, or an unknown one.',
    403: 'The token lacks the scope this operation needs.',
    404: 'No such resource.',
    405: 'The path does not answer this method (`Allow` lists those it does).',
    406: 'The `Accept` header allows neither `application/json` nor `text/event-stream`.',
    409: "Another changing operation holds the database, a plan is stale, the database refused a row (`constraint-violation`, naming the constraint), or a rehearsal's copy could not be made (`copy-refused`, saying why).",
    413: 'The body is larger than 1 MB.',
    415: 'The body is not `application/json`.',
    422: 'The database does not have a schema the operation can work on; `missing` names what lacks.',
    429: 'The token already has a read running (`runningReportId`): one at a time per token; `Retry-After` says when to try again.',
    499: 'The client closed the request: the operation stopped, and its stored report says so.',
    503: 'The database or the report store is unreachable, or every connection to the database is busy (`reason: connections-busy`), with `Retry-After`; or the service is not configured.',
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
