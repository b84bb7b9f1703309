import { Scalar } from '@scalar/hono-api-reference';
import type { Context, ExecutionContext } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { dashboardRouter } from './dashboard/dashboard.js';
import type { ScopeProvider, WaitUntil } from './http/context.js';
import { createRouter } from './http/create-router.js';
import { openApiDocument } from './http/openapi.js';
import { HttpProblem, problemResponse } from './http/problems.js';
import { benchmarkRouter } from './routes/benchmark/benchmark.index.js';
import { healthRouter } from './routes/health/health.index.js';
import { preflightRouter } from './routes/preflight/preflight.index.js';
import { optimizeRouter } from './routes/optimize/optimize.index.js';
import { mcpRouter } from './routes/mcp/mcp.index.js';
import { migrateRouter } from './routes/migrate/migrate.index.js';
import { rehearseRouter } from './routes/rehearse/rehearse.index.js';
import { reportsRouter } from './routes/reports/reports.index.js';
import { restoreRouter } from './routes/restore/restore.index.js';
import { rollbackRouter } from './routes/rollback/rollback.index.js';
import { slackRouter } from './routes/slack/slack.index.js';
import { validateRouter } from './routes/validate/validate.index.js';

export const MAX_BODY_BYTES = 1024 * 1024;

function executionContextOf(c: Context): WaitUntil | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined; // Node has no ExecutionContext
  }
}

/** Every documented endpoint, without the middleware that needs a runtime. */
function createRoutes() {
  return createRouter()
    .route('/', healthRouter)
    .route('/', migrateRouter)
    .route('/', validateRouter)
    .route('/', rollbackRouter)
    .route('/', restoreRouter)
    .route('/', benchmarkRouter)
    .route('/', optimizeRouter)
    .route('/', rehearseRouter)
    .route('/', preflightRouter)
    .route('/', reportsRouter)
    .route('/', mcpRouter)
    .route('/', slackRouter);
}

/** The OpenAPI 3.1 document the service publishes at /openapi.json. */
export function apiDocument() {
  return openApiDocument(createRoutes());
}

/** What the service serves from the installed packages, however its runtime reads them. */
export interface AppAssets {
  /** @scalar/api-reference's standalone browser bundle, for /docs (no CDN). */
  apiReferenceScript?: () => Promise<string>;
}

export const API_REFERENCE_SCRIPT_PATH = '/docs/api-reference.js';

/** The whole HTTP service; the entry points differ in the ScopeProvider they pass, and how they read assets. */
export function createApp<Bindings>(provider: ScopeProvider<Bindings>, assets: AppAssets = {}) {
  const app = createRouter();
  const routes = createRoutes();
  const document = openApiDocument(routes);

  app.use(requestId());
  app.use(secureHeaders());
  // The published contract needs neither a database nor a token.
  app.get('/openapi.json', (c) => c.json(document));
  // The reference's script comes from this service (the installed package), never from a CDN, and
  // its default fonts (fonts.scalar.com) are left out: /docs works in a closed network.
  app.get(
    '/docs',
    Scalar({
      url: '/openapi.json',
      pageTitle: 'sark-migrate API',
      cdn: API_REFERENCE_SCRIPT_PATH,
      withDefaultFonts: false,
    }),
  );
  app.get(API_REFERENCE_SCRIPT_PATH, async (c) => {
    if (!assets.apiReferenceScript)
      throw new HttpProblem('not-found', 'This runtime does not serve the API reference script.');
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(await assets.apiReferenceScript(), 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });

  app.use(async (c, next) => {
    const executionContext = executionContextOf(c);
    const scope = provider.acquire(c.env as Bindings, executionContext);
    c.set('deps', scope.deps);
    c.set('tokens', scope.tokens);
    c.set('runtime', scope.runtime);
    c.set('dispatch', async (request) => app.fetch(request, c.env, executionContext as ExecutionContext | undefined));
    c.set('slack', scope.slack);
    c.set('dashboardSecret', scope.dashboardSecret);
    try {
      await next();
    } finally {
      provider.release?.(scope, executionContext);
    }
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        problemResponse(c, new HttpProblem('payload-too-large', `The body must be at most ${MAX_BODY_BYTES} bytes.`)),
    }),
  );
  app.route('/', routes);
  // The dashboard (HTML pages for people): not part of the published API document.
  app.route('/dashboard', dashboardRouter as never);

  app.notFound((c) =>
    problemResponse(c, new HttpProblem('not-found', `No endpoint ${c.req.method} ${c.req.path}; see /docs.`)),
  );
  app.onError((error, c) => problemResponse(c, error));
  return app;
}

export type App = ReturnType<typeof createApp>;
