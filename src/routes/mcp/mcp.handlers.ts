import type { Hook, RouteHandler } from '@hono/zod-openapi';
import { StreamableHTTPTransport } from '@hono/mcp';
import type { Context, Handler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { authenticate } from '../../http/auth.js';
import type { AppEnv } from '../../http/create-router.js';
import { HttpProblem, problemResponse } from '../../http/problems.js';
import { createMcpServer, type RouteCaller } from './mcp.server.js';
import type { postMcp } from './mcp.routes.js';

/** The tools' requests: through the whole app again (auth, scopes, validation, runner), with the caller's token. */
function routeCaller(c: Context<AppEnv>): RouteCaller {
  return ({ method, path, body, respondAsync }) => {
    const headers = new Headers({ Authorization: c.req.header('Authorization') ?? '' });
    headers.set('X-Request-Id', c.var.requestId);
    if (body) headers.set('Content-Type', 'application/json');
    if (respondAsync) headers.set('Prefer', 'respond-async');
    const request = new Request(new URL(path, c.req.url), {
      method,
      headers,
      body: body ? JSON.stringify(body) : null,
      signal: c.req.raw.signal,
    });
    return c.var.dispatch(request);
  };
}

/**
 * A body that is no JSON-RPC message is refused as a whole: which member of which kind of
 * message is wrong is a guess the union cannot make (an `id` is right in a request, wrong in a notification).
 */
export const jsonRpcHook: Hook<unknown, AppEnv, string, Response | undefined> = (result, c) => {
  if (result.success) return;
  const message = 'is not a JSON-RPC 2.0 message (a request, notification, result or error) nor a batch of them';
  return problemResponse(
    c,
    new HttpProblem('bad-request', `The request body ${message}.`, {
      errors: [{ field: '(body)', in: 'body', message }],
    }),
  );
};

/** The transport's own refusals (Accept, protocol version) as problems, like every other error of the service. */
async function transportProblem(error: HTTPException): Promise<HttpProblem> {
  const answer = (await error
    .getResponse()
    .json()
    .catch(() => null)) as { error?: { message?: string } } | null;
  const detail = answer?.error?.message ?? (error.message || 'The MCP request was refused.');
  if (error.status === 406) return new HttpProblem('not-acceptable', detail);
  if (error.status === 415) return new HttpProblem('unsupported-media-type', detail);
  // A message the schema lets through but MCP refuses (two initialize requests in a batch, a malformed `_meta`).
  return new HttpProblem('bad-request', detail, { errors: [{ field: '(body)', in: 'body', message: detail }] });
}

/**
 * One JSON-RPC exchange: a server and a transport of its own per request, with no session, so
 * any process or isolate can answer any request (Workers keep nothing between requests).
 */
export const postMcpHandler: RouteHandler<typeof postMcp, AppEnv> = async (c) => {
  const server = createMcpServer(routeCaller(c));
  const transport = new StreamableHTTPTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    const response = await transport.handleRequest(c, c.req.valid('json'));
    return (response ?? c.body(null, 202)) as never;
  } catch (error) {
    throw error instanceof HTTPException ? await transportProblem(error) : error;
  } finally {
    await server.close();
  }
};

/** GET and DELETE /mcp: a stateless server has no event stream to open and no session to end. */
export const notOfferedHandler: Handler<AppEnv> = async (c) => {
  await authenticate(c, 'any');
  const what = c.req.method === 'GET' ? 'event stream to open' : 'session to end';
  throw new HttpProblem(
    'method-not-allowed',
    `This MCP server is stateless: it has no ${what}. POST JSON-RPC messages to /mcp.`,
    {
      headers: { Allow: 'POST' },
    },
  );
};
