import { createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../../http/auth.js';
import { problemResponses } from '../../http/problems.js';
import { bearerSecurity } from '../shared.js';

const version = z.literal('2.0');
const requestId = z.union([z.string(), z.number().int()]);
const params = z.record(z.string(), z.unknown());

/** JSON-RPC 2.0 as MCP uses it: requests, notifications, results and errors, no other member. */
const jsonRpcMessageSchema = z
  .union([
    z
      .strictObject({ jsonrpc: version, id: requestId, method: z.string(), params: params.optional() })
      .openapi('JsonRpcRequest', { description: 'A request: `initialize`, `tools/list`, `tools/call`, ...' }),
    z
      .strictObject({ jsonrpc: version, method: z.string(), params: params.optional() })
      .openapi('JsonRpcNotification', { description: 'A notification, e.g. `notifications/initialized`.' }),
    z.strictObject({ jsonrpc: version, id: requestId, result: params }).openapi('JsonRpcResult'),
    z
      .strictObject({
        jsonrpc: version,
        id: requestId.optional(),
        error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }),
      })
      .openapi('JsonRpcError'),
  ])
  .openapi('JsonRpcMessage', { description: 'One JSON-RPC 2.0 message of MCP.' });

const mcpBodySchema = z.union([jsonRpcMessageSchema, z.array(jsonRpcMessageSchema).min(1)]);

const TOOLS_LIST = [
  '`validate`, `benchmark`, `optimize_plan`, `migrate_plan`, `rollback_plan` (scope `run`); `apply` (scope',
  '`apply`); `get_report`, `list_reports` (scope `read`); `cancel` (`run`, `apply` for a changing run).',
].join(' ');

export const postMcp = createRoute({
  method: 'post',
  path: '/mcp',
  operationId: 'mcp',
  tags: ['MCP'],
  summary: 'Model Context Protocol server (Streamable HTTP, stateless)',
  description: [
    "An MCP server for assistants and agents: each tool is one request of this API, made with the caller's",
    `token, so scopes, validation and refusals are the API's own. Tools: ${TOOLS_LIST} A refusal is a tool`,
    'result with `isError` and the problem. The server keeps no session: every POST carries one JSON-RPC',
    'message (or a batch) and is answered with JSON; GET (an event stream) and DELETE (ending a session) answer',
    '405, which MCP clients take as none offered. See docs/mcp.md.',
  ].join(' '),
  security: bearerSecurity,
  middleware: [requireScope('any')] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: mcpBodySchema } } },
  },
  responses: {
    200: {
      description: 'The JSON-RPC response (or responses, to a batch).',
      content: { 'application/json': { schema: mcpBodySchema } },
    },
    202: { description: 'Notifications or responses only: accepted, nothing to answer.' },
    ...problemResponses(400, 401, 406, 413, 415),
  },
});
