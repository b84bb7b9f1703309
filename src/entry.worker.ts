import { createNeonDatabase } from './adapters/db/neon.js';
import type { Database } from './adapters/db/types.js';
import { r2ObjectStore, type R2BucketLike } from './adapters/storage/r2.js';
import apiReferenceScript from '../node_modules/@scalar/api-reference/dist/browser/standalone.js';
import { createApp } from './app.js';
import { databaseTargetOf, readWorkerConfig, type WorkerConfig } from './env.js';
import { ServiceSchemaGate, withServiceSchema } from './db/service-migrations.js';
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep, type WorkflowStepConfig } from 'cloudflare:workers';
import { ConfigError, isServiceError, isTransient, ServiceError, type ErrorKind } from './errors.js';
import { reportErrorOf } from './http/problems.js';
import type { LaunchParams, Launcher } from './operations/deps.js';
import { markAbandonedRuns } from './operations/abandon.js';
import { HEALTH_PROBE_TTL_MS, ProbeCache, type HealthReport } from './operations/probe.js';
import { LEASE_TTL_MS } from './operations/lease.js';
import { operationFor } from './operations/registry.js';
import { runOperation, type Step, type StepOptions } from './operations/runner.js';
import { notifyEnded, notifyRefused, notifyWebhookEnded, notifyWebhookRefused } from './operations/start.js';
import type { Report } from './reports/schemas.js';
import type { RequestScope, WaitUntil } from './http/context.js';
import type { AppDeps } from './operations/deps.js';
import { createReportStore } from './reports/store.js';

export interface WorkerBindings {
  DATABASE_URL?: string;
  API_TOKENS?: string;
  WS_PROXY?: string;
  /** Enables POST /chatops/slack (secret). */
  SLACK_SIGNING_SECRET?: string;
  /** JSON array of {"team","user","scopes"}: who may use the Slack door. */
  SLACK_PRINCIPALS?: string;
  /** "true": notifications may go to private addresses and plain http (local development, tests). */
  NOTIFY_ALLOW_PRIVATE?: string;
  /** Where an async run's signed summary goes when its request names no `notify`. */
  NOTIFY_URL?: string;
  /** Signs notifications (Standard Webhooks, `whsec_…`; secret); without it `notify` is refused. */
  NOTIFY_SECRET?: string;
  /** Signs the dashboard's session cookies (a secret of 32 characters or more); without it the dashboard is off. */
  DASHBOARD_SECRET?: string;
  REPORTS: R2BucketLike;
  /** The Workflow that carries every operation (wrangler.toml [[workflows]]); without it, waitUntil does. */
  RUNS?: Workflow<LaunchParams>;
  /** Optional: how long a synchronous request waits for its run before answering 202 (ms). */
  SYNC_BUDGET_MS?: string;
}

/** Workers has no DNS lookup: literal addresses are judged, and its fetch cannot reach a private network. */
const notifyOptions = (config: WorkerConfig) => ({
  allowPrivate: config.notifyAllowPrivate,
  ...(config.notifySecret ? { secret: config.notifySecret } : {}),
  ...(config.notifyUrl ? { defaultUrl: config.notifyUrl } : {}),
});

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

// The deep /health probe, shared by this isolate's requests per configuration (no client lives in it).
const healthProbes = new WeakMap<WorkerConfig, ProbeCache<HealthReport>>();
function healthProbeOf(config: WorkerConfig): ProbeCache<HealthReport> {
  let probe = healthProbes.get(config);
  if (!probe) healthProbes.set(config, (probe = new ProbeCache(HEALTH_PROBE_TTL_MS)));
  return probe;
}

// Whether each database's service schema is current, across this isolate's requests (no client, no attempt in flight).
const serviceSchema = new ServiceSchemaGate();

const app = createApp<WorkerBindings>(
  {
    acquire(env, executionContext): RequestScope {
      const config = configOf(env);
      const background: Promise<unknown>[] = [];
      const db = lazyDatabase(config);
      const deps: AppDeps = {
        db: withServiceSchema(db, serviceSchema, config.databaseUrl ?? ''),
        store: createReportStore(r2ObjectStore(env.REPORTS)),
        launcher: env.RUNS ? workflowLauncher(env.RUNS) : undefined,
        healthProbe: healthProbeOf(config),
        notify: notifyOptions(config),
        target: databaseTargetOf(config),
        ...(env.SYNC_BUDGET_MS ? { syncBudgetMs: Number(env.SYNC_BUDGET_MS) } : {}),
        // waitUntil at once, not at release: a client that disconnects mid-request must not cancel the work.
        defer: (task) => {
          background.push(task);
          executionContext?.waitUntil(task);
        },
      };
      backgroundOf.set(deps, background);
      return {
        deps,
        tokens: config.apiTokens,
        runtime: 'workers',
        slack: config.slack,
        dashboardSecret: config.dashboardSecret,
      };
    },
    release({ deps }, executionContext) {
      // A Neon pool lives for one request: close it once the response and its background work are done.
      const background = backgroundOf.get(deps) ?? [];
      executionContext?.waitUntil(Promise.allSettled(background).then(() => deps.db.close()));
    },
  },
  { apiReferenceScript: async () => apiReferenceScript as string },
);

/** Runs as Workflow instances whose id is the report id; what the Workflow returns tells a run that never started. */
function workflowLauncher(runs: Workflow<LaunchParams>): Launcher {
  return {
    async launch(params) {
      await runs.create({ id: params.id, params });
    },
    async state(id) {
      const status = await (await runs.get(id)).status();
      const output = status.output as WorkflowOutput | undefined;
      if (status.status === 'complete')
        return output?.refused ? { state: 'refused', ...output.refused } : { state: 'ended' };
      if (status.status === 'errored' || status.status === 'terminated')
        return { state: 'errored', message: status.error?.message ?? status.status };
      return { state: 'running' };
    },
  };
}

type WorkflowOutput = { refused?: { kind: ErrorKind; detail: string; facts: Record<string, unknown> } };

/** What a step records: its result, or the ServiceError that ended it (not retried). */
type StepOutcome<T> = {
  value?: T;
  stopped?: { kind: ErrorKind; detail: string; facts: Record<string, unknown>; said: string | undefined };
};

/**
 * Each step (a batch, a batch's bounds, a group of checks, a pattern, an index) is retried after a
 * lost connection or an evicted isolate; its timeout is the one its statements are sized to.
 */
const STEP_RETRIES: WorkflowStepConfig = { retries: { limit: 4, delay: '2 seconds', backoff: 'exponential' } };

/** Telling a chat how a run ended: the sender retries by itself, so the step is tried once more at most. */
const NOTIFY_STEP: WorkflowStepConfig = { retries: { limit: 1, delay: '5 seconds' }, timeout: '2 minutes' };

/**
 * One operation, durably: the same runner and operation as on Node, its batches as steps. A
 * replay after an evicted isolate runs the operation again from the start; every step that
 * completed gives back its recorded result, and a batch that committed but whose step did not
 * complete finds its result in sark_migrate.run_steps. The lease is taken again by the same run.
 */
export class RunWorkflow extends WorkflowEntrypoint<WorkerBindings, LaunchParams> {
  override async run(event: Readonly<WorkflowEvent<LaunchParams>>, step: WorkflowStep): Promise<WorkflowOutput> {
    const p = event.payload;
    const config = configOf(this.env);
    const db = withServiceSchema(lazyDatabase(config), serviceSchema, config.databaseUrl ?? '');
    const background: Promise<unknown>[] = [];
    const deps: AppDeps = {
      db,
      store: createReportStore(r2ObjectStore(this.env.REPORTS)),
      defer: (task) => void background.push(task),
      notify: notifyOptions(config),
      target: databaseTargetOf(config),
      // A run from Slack refused for a stale plan is answered with a new plan: a Workflow of its own.
      launcher: this.env.RUNS ? workflowLauncher(this.env.RUNS) : undefined,
    };
    // Step results are plain JSON (counts, batch bounds), which the Workflow keeps; the types cannot see it.
    const plain = step as unknown as {
      do(name: string, config: WorkflowStepConfig, work: () => Promise<unknown>): Promise<unknown>;
    };
    // A run from a chat door tells its end in a step of its own, so a replayed Workflow posts it once.
    const { notify, webhook } = p;
    const tell = (name: string, work: () => Promise<void>) =>
      plain.do(name, NOTIFY_STEP, async () => {
        await work();
        return null;
      });
    const run = {
      kind: p.kind,
      actor: p.actor,
      request: p.request,
      respondAsync: true, // the running report is stored at once: the request waiting on it reads it
      changing: p.changing,
      describeFailure: reportErrorOf,
      onEnded: async (report: Report) => {
        if (notify) await tell('notify', () => notifyEnded(deps, notify, report));
        if (webhook) await tell('notify webhook', () => notifyWebhookEnded(deps, webhook, report));
      },
    };
    // A step that ends in an answer (cancelled, lease-lost, stale-plan) is not retried: it is
    // recorded as such and thrown again outside the step, as the runner expects.
    const steps: Step = async <T>(name: string, work: () => Promise<T>, options: StepOptions): Promise<T> => {
      const outcome = (await plain.do(name, { ...STEP_RETRIES, timeout: options.timeoutMs }, async () => {
        try {
          return { value: await work() };
        } catch (error) {
          if (!isServiceError(error) || isTransient(error)) throw error;
          return { stopped: { kind: error.kind, detail: error.message, facts: error.facts, said: error.said } };
        }
      })) as StepOutcome<T>;
      if (outcome.stopped) {
        const { kind, detail, facts, said } = outcome.stopped;
        throw new ServiceError(kind, detail, { facts, ...(said === undefined ? {} : { said }) });
      }
      return outcome.value as T;
    };
    try {
      await runOperation(deps, run, operationFor(p.kind, p.request, deps), {
        id: p.id,
        startedAt: p.startedAt,
        step: steps,
      });
      await Promise.all(background);
      return {};
    } catch (error) {
      await Promise.allSettled(background);
      // It did not start (or failed to): the chat that asked is told why.
      if (notify) await tell('notify refusal', () => notifyRefused(deps, notify, run, error));
      if (webhook?.toldRefusal)
        await tell('notify webhook refusal', () =>
          notifyWebhookRefused(deps, webhook, { kind: p.kind, id: p.id }, error),
        );
      if (isServiceError(error)) return { refused: { kind: error.kind, detail: error.message, facts: error.facts } };
      throw error; // a bug: the instance errors, and the waiting request answers 500
    } finally {
      await db.close();
    }
  }
}

/** Whether the Workflows engine still holds the run's instance to run or resume (not ended, not gone). */
async function instanceAlive(runs: Workflow<LaunchParams> | undefined, id: string): Promise<boolean> {
  if (!runs) return false;
  try {
    const { status } = await (await runs.get(id)).status();
    return !['complete', 'errored', 'terminated'].includes(status);
  } catch {
    return false; // no such instance: nothing will resume the run
  }
}

/**
 * The cron trigger (wrangler.toml): runs still `running` in the ledger with no heartbeat for a
 * lease's TTL, no live lease, and no Workflow instance left to resume them, end `abandoned`, as
 * a Node process marks them at start. An instance the engine keeps is left alone: it replays.
 */
export async function sweepAbandoned(env: WorkerBindings): Promise<number> {
  const config = configOf(env);
  if (!config.databaseUrl) return 0;
  const db = withServiceSchema(lazyDatabase(config), serviceSchema, config.databaseUrl);
  try {
    const deps: AppDeps = { db, store: createReportStore(r2ObjectStore(env.REPORTS)), defer: () => undefined };
    return (await markAbandonedRuns(deps, LEASE_TTL_MS, (id) => instanceAlive(env.RUNS, id))).length;
  } finally {
    await db.close();
  }
}

export default {
  fetch(request: Request, env: WorkerBindings, ctx: WaitUntil): Response | Promise<Response> {
    return app.fetch(request, env, ctx as never);
  },
  scheduled(_controller: ScheduledController, env: WorkerBindings, ctx: WaitUntil): void {
    ctx.waitUntil(
      sweepAbandoned(env).catch((error: unknown) => console.error('the sweep for abandoned runs failed', error)),
    );
  },
};
