import { Scalar } from '@scalar/hono-api-reference';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { databaseProblem } from './adapters/db/errors.js';
import { createRouter, type AppEnv } from './lib/create-router.js';
import type { DepsProvider, WaitUntil } from './lib/deps.js';
import { openApiDocument } from './lib/openapi.js';
import { problemResponse } from './lib/problem.js';
import { benchmarkRouter } from './routes/benchmark/benchmark.index.js';
import { healthRouter } from './routes/health/health.index.js';
import { optimizeRouter } from './routes/optimize/optimize.index.js';
import { migrateRouter } from './routes/migrate/migrate.index.js';
import { reportsRouter } from './routes/reports/reports.index.js';
import { rollbackRouter } from './routes/rollback/rollback.index.js';
import { validateRouter } from './routes/validate/validate.index.js';

export const MAX_BODY_BYTES = 1024 * 1024;

function executionContextOf(c: Context): WaitUntil | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined; // Node has no ExecutionContext
  }
}

function handleError(error: Error, c: Context<AppEnv>): Response {
  const problem = databaseProblem(error);
  if (problem) {
    if (problem.status >= 500)
      console.error(`[${c.var.requestId}] ${problem.title}:`, problem.cause ?? problem.message);
    return problemResponse(c, {
      status: problem.status as 503,
      slug: problem.slug,
      title: problem.title,
      detail: problem.message,
      extensions: problem.extensions,
    });
  }
  if (error instanceof HTTPException && error.status === 400) {
    // Hono's JSON reader: the body is not JSON at all.
    return problemResponse(c, {
      status: 400,
      slug: 'bad-request',
      title: 'Bad request',
      detail: 'The request body is not valid JSON.',
      errors: [{ field: '(body)', in: 'body', message: error.message }],
    });
  }
  if (error instanceof HTTPException) {
    const title = error.message || 'Error';
    return problemResponse(c, {
      status: error.status,
      slug: title.toLowerCase().replace(/[^a-z]+/g, '-'),
      title,
      detail: `${title}: send the body as application/json.`,
    });
  }
  // A bug: log it whole, answer without internals (no SQL, connection string or stack).
  console.error(`[${c.var.requestId}] unhandled error:`, error);
  return problemResponse(c, {
    status: 500,
    slug: 'internal-error',
    title: 'Internal error',
    detail: `The service failed unexpectedly; quote request id ${c.var.requestId} when reporting it.`,
  });
}

/** Every documented endpoint, without the middleware that needs a runtime. */
function createRoutes() {
  return createRouter()
    .route('/', healthRouter)
    .route('/', migrateRouter)
    .route('/', validateRouter)
    .route('/', rollbackRouter)
    .route('/', benchmarkRouter)
    .route('/', optimizeRouter)
    .route('/', reportsRouter);
}

/** The OpenAPI 3.1 document the service publishes at /openapi.json. */
export function apiDocument() {
  return openApiDocument(createRoutes());
}

/** The whole HTTP service; the entry points differ only in the DepsProvider they pass. */
export function createApp<Bindings>(provider: DepsProvider<Bindings>) {
  const app = createRouter();
  const routes = createRoutes();
  const document = openApiDocument(routes);

  app.use(requestId());
  app.use(secureHeaders());
  // The published contract needs neither a database nor a token.
  app.get('/openapi.json', (c) => c.json(document));
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'sark-migrate API' }));

  app.use(async (c, next) => {
    const executionContext = executionContextOf(c);
    const deps = provider.acquire(c.env as Bindings, executionContext);
    c.set('deps', deps);
    try {
      await next();
    } finally {
      provider.release?.(deps, executionContext);
    }
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        problemResponse(c, {
          status: 413,
          slug: 'payload-too-large',
          title: 'Payload too large',
          detail: `The body must be at most ${MAX_BODY_BYTES} bytes.`,
        }),
    }),
  );
  app.route('/', routes);

  app.notFound((c) =>
    problemResponse(c, {
      status: 404,
      slug: 'not-found',
      title: 'Not found',
      detail: `No endpoint ${c.req.method} ${c.req.path}; see /docs.`,
    }),
  );
  app.onError(handleError);
  return app;
}

export type App = ReturnType<typeof createApp>;
