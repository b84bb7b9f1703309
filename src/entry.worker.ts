import { createNeonDatabase } from './adapters/db/neon.js';
import type { Database } from './adapters/db/types.js';
import { r2ObjectStore, type R2BucketLike } from './adapters/storage/r2.js';
import { createApp } from './app.js';
import { readWorkerConfig, type WorkerConfig } from './env.js';
import { ServiceSchemaGate, withServiceSchema } from './db/service-migrations.js';
import { ConfigError, ServiceError } from './errors.js';
import type { RequestScope, WaitUntil } from './http/context.js';
import type { AppDeps } from './operations/deps.js';
import { createReportStore } from './reports/store.js';

export interface WorkerBindings {
  DATABASE_URL?: string;
  API_TOKENS?: string;
  WS_PROXY?: string;
  REPORTS: R2BucketLike;
}

/** A Database that opens its Neon pool on first use, so requests that never query open nothing. */
function lazyDatabase(config: WorkerConfig): Database {
  let db: Database | undefined;
  const open = (): Database => {
    if (!config.databaseUrl) throw new ServiceError('not-configured', 'DATABASE_URL is not set for this Worker.');
    return (db ??= createNeonDatabase({ connectionString: config.databaseUrl, wsProxy: config.wsProxy }));
  };
  return {
    driver: 'neon',
    query: (text, params) => open().query(text, params),
    transaction: (fn, options) => open().transaction(fn, options),
    withAdvisoryLock: (fn) => open().withAdvisoryLock(fn),
    close: async () => db?.close(),
  };
}

// Parsed configuration per bindings object (stable within an isolate); no clients live here.
const configs = new WeakMap<object, WorkerConfig>();
function configOf(env: WorkerBindings): WorkerConfig {
  let config = configs.get(env);
  if (!config) {
    try {
      config = readWorkerConfig(env as unknown as Record<string, unknown>);
    } catch (error) {
      // A bad secret is the operator's to fix: 503 naming the variable (never its value).
      if (error instanceof ConfigError) throw new ServiceError('not-configured', error.message);
      throw error;
    }
    configs.set(env, config);
  }
  return config;
}

const backgroundOf = new WeakMap<AppDeps, Promise<unknown>[]>();

// Whether each database's service schema is current, across this isolate's requests (no client, no attempt in flight).
const serviceSchema = new ServiceSchemaGate();

const app = createApp<WorkerBindings>({
  acquire(env, executionContext): RequestScope {
    const config = configOf(env);
    const background: Promise<unknown>[] = [];
    const db = lazyDatabase(config);
    const deps: AppDeps = {
      db: withServiceSchema(db, serviceSchema, config.databaseUrl ?? ''),
      store: createReportStore(r2ObjectStore(env.REPORTS)),
      // waitUntil at once, not at release: a client that disconnects mid-request must not cancel the work.
      defer: (task) => {
        background.push(task);
        executionContext?.waitUntil(task);
      },
    };
    backgroundOf.set(deps, background);
    return { deps, tokens: config.apiTokens, runtime: 'workers' };
  },
  release({ deps }, executionContext) {
    // A Neon pool lives for one request: close it once the response and its background work are done.
    const background = backgroundOf.get(deps) ?? [];
    executionContext?.waitUntil(Promise.allSettled(background).then(() => deps.db.close()));
  },
});

export default {
  fetch(request: Request, env: WorkerBindings, ctx: WaitUntil): Response | Promise<Response> {
    return app.fetch(request, env, ctx as never);
  },
};
