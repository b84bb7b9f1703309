import { createRouter } from '../../http/create-router.js';
import { jsonRpcHook, notOfferedHandler, postMcpHandler } from './mcp.handlers.js';
import { postMcp } from './mcp.routes.js';

export const mcpRouter = createRouter()
  .openapi(postMcp, postMcpHandler, jsonRpcHook)
  .on(['GET', 'DELETE'], '/mcp', notOfferedHandler);
