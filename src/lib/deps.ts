import type { Database } from '../adapters/db/types.js';
import type { ReportStore } from '../reports/store.js';
import type { TokenEntry } from './scopes.js';

/** Everything a request needs from the outside world, built by the runtime's entry point. */
export interface AppDeps {
  db: Database;
  store: ReportStore;
  /** Undefined when no tokens are configured: every operation then answers 503. */
  tokens: readonly TokenEntry[] | undefined;
  runtime: 'node' | 'workers';
  /** Keeps an operation going after the response (respond-async) or a client that went away; the runtime decides how long it may run. */
  defer(task: Promise<unknown>): void;
  /** How often a running report is rewritten with its progress (default 1000 ms). */
  progressIntervalMs?: number;
}

/** How an entry point lends dependencies to one request and takes them back after it. */
export interface DepsProvider<Bindings = unknown> {
  /** bindings: the Worker's env (undefined on Node, which builds its deps once). */
  acquire(bindings: Bindings, executionContext: WaitUntil | undefined): AppDeps;
  release?(deps: AppDeps, executionContext: WaitUntil | undefined): void;
}

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}
