import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { VERSION } from '../../http/openapi.js';
import { toolResult } from './mcp.results.js';
import { TOOLS, type RouteCall } from './mcp.tools.js';

/** Makes one request of the service's own routes, as the MCP caller, and answers its Response. */
export type RouteCaller = (call: RouteCall) => Promise<Response>;

/** An MCP server whose every tool is a request of the API through `callRoute`. */
export function createMcpServer(callRoute: RouteCaller): McpServer {
  const server = new McpServer(
    { name: 'sark-migrate', version: VERSION },
    {
      capabilities: { tools: {} },
      instructions: [
        "Runs SARK's v1 to v2 database migration. Plan before changing anything: migrate_plan or rollback_plan",
        'gives a planId, optimize_plan the index names; apply carries a reviewed plan out. Long runs: pass',
        'respondAsync and follow the report with get_report.',
      ].join(' '),
    },
  );
  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: Record<string, unknown>) => toolResult(await callRoute(tool.request(args))),
    );
  }
  return server;
}
