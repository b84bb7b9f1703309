import type { CopyProvider } from '../adapters/copies/types.js';
import type { Database } from '../adapters/db/types.js';
import type { ReportStore } from '../reports/store.js';
import type { HealthReport, ProbeCache } from './probe.js';
import type { ErrorKind } from '../errors.js';
import type { ReportKind } from '../reports/schemas.js';
import type { NotifyOptions } from '../notify/send.js';
import type { DatabaseTarget } from './preflight/target.js';

/** What every operation needs from the outside world, built by the runtime's entry point. */
export interface AppDeps {
  db: Database;
  /**
   * The database for changing runs (migrate, rollback, optimize apply), on connections of their
   * own so that reads cannot starve a batch (Node); db when absent (PGlite; a Worker, whose every
   * run has its own pool already).
   */
  changes?: Database;
  store: ReportStore;
  /** How a rehearsal (POST /rehearse) copies the database: by runtime; absent, rehearsals are refused (503). */
  copies?: CopyProvider | undefined;
  /**
   * Keeps an operation going after the response (respond-async) or a client that went away;
   * the runtime decides how long it may run.
   */
  defer(task: Promise<unknown>): void;
  /** How often a running report is rewritten with its progress (default 1000 ms). */
  progressIntervalMs?: number;
  /** How often a running run tells the run ledger it is alive, and learns of a cancel (default 2000 ms). */
  heartbeatMs?: number;
  /** How long a changing run's lease outlives its last renewal (default LEASE_TTL_MS, 60 s). */
  leaseTtlMs?: number;
  /**
   * Where operations run durably outside the request (Workers: Cloudflare Workflows). Without
   * one, they run in this process (Node).
   */
  launcher?: Launcher | undefined;
  /** With a launcher: how long a synchronous request waits for the run to end (default SYNC_BUDGET_MS). */
  syncBudgetMs?: number;
  /**
   * The deep health check's last probe, shared by the requests of one process or isolate, so a
   * flood of /health requests costs the database one probe every few seconds (operations/health.ts).
   */
  healthProbe?: ProbeCache<HealthReport>;
  /** What the configuration says of the database (its host, Neon and its prices), for /preflight. */
  target?: DatabaseTarget | undefined;
  /** How notifications (Slack's response_url, `notify`) are sent; absent: public https targets only, default retries, no signing secret. */
  notify?: NotifyOptions;
}

/**
 * Where a run started from a chat door tells how it ended (or that it did not start): Slack's
 * response_url of the command or of the button, with what the message needs.
 */
export interface NotifyTarget {
  kind: 'slack';
  /** The response_url; checked against the notify policy before the run was started. */
  url: string;
  /** The service's origin as the request reached it, for links to reports. */
  origin: string;
  /** Put Apply and Cancel under a plan (a dry run, an optimize plan). */
  buttons: boolean;
  /** Replace the message whose button was clicked. */
  replaceOriginal?: boolean;
  /** The plan (its report id) an Apply click applies: should it be stale, a new plan is made and compared with it. */
  plan?: string;
  /** On the new plan made for a stale one: the stale plan's report id, and why it was stale. */
  stale?: { plan: string; detail: string };
}

/** Where a run's summary is POSTed, signed (Standard Webhooks): its request's `notify`, or NOTIFY_URL. */
export interface WebhookTarget {
  /** Checked against the notify policy before the run was started. */
  url: string;
  /** The service's origin as the request reached it, for the link to the report. */
  origin: string;
  /** On a launched run: whether a refusal (the run did not start) is posted too (a respond-async run's). */
  toldRefusal?: boolean;
}

/** What a launched run is given: everything it needs to run again from nothing (a Workflow's params). */
export interface LaunchParams {
  id: string;
  startedAt: number;
  kind: ReportKind;
  actor: string;
  request: Record<string, unknown>;
  changing: boolean;
  /** Where to tell how the run ended (a run from Slack): the Workflow posts it at the end of its run. */
  notify?: NotifyTarget;
  /** Where to POST the run's signed summary at its end: the Workflow posts it in a step of its own. */
  webhook?: WebhookTarget;
}

/** How a launched run ended, where its own report does not say (it never started, or crashed). */
export type LaunchState =
  | { state: 'running' }
  | { state: 'ended' }
  /** It did not start: the error that is the request's answer (lease busy, stale plan, ...). */
  | { state: 'refused'; kind: ErrorKind; detail: string; facts: Record<string, unknown> }
  | { state: 'errored'; message: string };

/**
 * Where a runtime runs operations durably, outside the request (Workers: a Cloudflare Workflow
 * per run, whose instance id is the report id). The run stores its report as it goes.
 */
export interface Launcher {
  launch(params: LaunchParams): Promise<void>;
  state(id: string): Promise<LaunchState>;
}
