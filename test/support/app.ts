import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/adapters/db/types.js';
import { readApiReferenceScript } from '../../src/adapters/assets/api-reference.node.js';
import { fsObjectStore } from '../../src/adapters/storage/fs.js';
import type { ObjectStore } from '../../src/adapters/storage/types.js';
import { createApp } from '../../src/app.js';
import { ServiceSchemaGate, withServiceSchema } from '../../src/db/service-migrations.js';
import { generateToken, sha256Hex } from '../../src/http/auth.js';
import type { SlackConfig } from '../../src/http/context.js';
import type { AppDeps } from '../../src/operations/deps.js';
import type { Scope, TokenEntry } from '../../src/http/scopes.js';
import { createReportStore, type ReportStore } from '../../src/reports/store.js';

/** One token per scope combination a test needs, by name. */
export const TOKEN_SCOPES = {
  reader: ['read'],
  runner: ['run'],
  applier: ['apply'],
  admin: ['read', 'run', 'apply'],
} as const satisfies Record<string, readonly Scope[]>;
export type TokenName = keyof typeof TOKEN_SCOPES;

export interface TestApp {
  app: ReturnType<typeof createApp>;
  store: ReportStore;
  deps: AppDeps;
  tokens: Record<TokenName, string>;
  /** API_TOKENS as the app was configured with them. */
  entries: TokenEntry[];
  /** Waits for the work respond-async requests left running. */
  settle(): Promise<void>;
  /** app.request with a bearer token by name and a JSON body. */
  call(
    method: string,
    path: string,
    options?: {
      as?: TokenName | null;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    },
  ): Promise<Response>;
}

export async function makeTestApp(
  db: Database,
  options: {
    tokens?: 'none';
    deps?: Pick<
      AppDeps,
      'heartbeatMs' | 'leaseTtlMs' | 'progressIntervalMs' | 'healthProbe' | 'changes' | 'notify' | 'copies' | 'target'
    >;
    /** The Slack door's configuration (SLACK_SIGNING_SECRET, SLACK_PRINCIPALS); off when absent. */
    slack?: SlackConfig;
    /** Where reports go (default: a fresh temporary folder). */
    objects?: ObjectStore;
  } = {},
): Promise<TestApp> {
  const tokens = {} as Record<TokenName, string>;
  const entries: TokenEntry[] = [];
  for (const [name, scopes] of Object.entries(TOKEN_SCOPES) as [TokenName, readonly Scope[]][]) {
    tokens[name] = generateToken();
    entries.push({ name, sha256: await sha256Hex(tokens[name]), scopes: [...scopes] });
  }
  const store = createReportStore(options.objects ?? fsObjectStore(await mkdtemp(join(tmpdir(), 'sark-app-'))));
  const background: Promise<unknown>[] = [];
  // As the entry points do: the service's own schema is brought up to date at the first use.
  const serviceSchema = new ServiceSchemaGate();
  const deps: AppDeps = {
    db: withServiceSchema(db, serviceSchema, 'test'),
    store,
    defer: (task) => void background.push(task),
    ...options.deps,
  };
  const configured = options.tokens === 'none' ? undefined : entries;
  const dashboardSecret = generateToken();
  const app = createApp(
    { acquire: () => ({ deps, tokens: configured, runtime: 'node', slack: options.slack, dashboardSecret }) },
    { apiReferenceScript: readApiReferenceScript },
  );
  return {
    app,
    store,
    deps,
    tokens,
    entries,
    async settle() {
      while (background.length > 0) await Promise.allSettled(background.splice(0));
    },
    call(method, path, { as = 'admin', body, rawBody, headers = {}, signal } = {}) {
      const init: RequestInit = { method, headers: { ...headers }, ...(signal ? { signal } : {}) };
      if (as) (init.headers as Record<string, string>).Authorization = `Bearer ${tokens[as]}`;
      if (body !== undefined || rawBody !== undefined) {
        init.body = rawBody ?? JSON.stringify(body);
        (init.headers as Record<string, string>)['Content-Type'] ??= 'application/json';
      }
      return Promise.resolve(app.request(path, init));
    },
  };
}
