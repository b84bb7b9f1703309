import type { AppDeps } from '../operations/deps.js';
import type { SlackPrincipal, TokenEntry } from './scopes.js';

export type Runtime = 'node' | 'workers';

/** What one request works with: the operations' dependencies, and what only the HTTP layer needs. */
export interface RequestScope {
  deps: AppDeps;
  /** Undefined when no tokens are configured: every operation then answers 503. */
  tokens: readonly TokenEntry[] | undefined;
  runtime: Runtime;
  /** The Slack door (SLACK_SIGNING_SECRET, SLACK_PRINCIPALS); undefined: its routes answer 503. */
  slack?: SlackConfig | undefined;
  /**
   * The key that signs the dashboard's session cookies (DASHBOARD_SECRET; on Node a random one per
   * process when unset). Undefined: the dashboard answers that it is not configured.
   */
  dashboardSecret?: string | undefined;
}

/** The Slack door: off (undefined) without a signing secret. Without principals nobody may use it. */
export interface SlackConfig {
  signingSecret: string;
  principals: SlackPrincipal[];
}

/** How an entry point lends a request its scope and takes it back after the response. */
export interface ScopeProvider<Bindings = unknown> {
  /** bindings: the Worker's env (undefined on Node, which builds its scope once). */
  acquire(bindings: Bindings, executionContext: WaitUntil | undefined): RequestScope;
  release?(scope: RequestScope, executionContext: WaitUntil | undefined): void;
}

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}
