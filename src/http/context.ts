import type { AppDeps } from '../operations/deps.js';
import type { TokenEntry } from './scopes.js';

export type Runtime = 'node' | 'workers';

/** What one request works with: the operations' dependencies, and what only the HTTP layer needs. */
export interface RequestScope {
  deps: AppDeps;
  /** Undefined when no tokens are configured: every operation then answers 503. */
  tokens: readonly TokenEntry[] | undefined;
  runtime: Runtime;
  /**
   * The key that signs the dashboard's session cookies (DASHBOARD_SECRET; on Node a random one per
   * process when unset). Undefined: the dashboard answers that it is not configured.
   */
  dashboardSecret?: string | undefined;
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
