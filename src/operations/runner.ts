import { isServiceError, ServiceError } from '../errors.js';
import { newReportId, type ReportId } from '../reports/ids.js';
import type { Outcome, Report, ReportKind, RunnerField } from '../reports/schemas.js';
import type { ReportStore } from '../reports/store.js';
import type { AppDeps } from './deps.js';
import { cancelledError, HEARTBEAT_MS, RunLedger } from './runs.js';

/**
 * Final reports a store did not take, per store: the next run on that store, once the store
 * answers again, puts them first, so a Location handed out earlier stops saying `running`.
 */
const unstoredReports = new WeakMap<ReportStore, Map<string, Report>>();

async function putUnstored(store: ReportStore): Promise<void> {
  const pending = unstoredReports.get(store);
  for (const [id, report] of pending ?? []) {
    await store.put(report).then(
      () => pending!.delete(id),
      () => undefined, // still not taken: the next run tries again
    );
  }
}

/**
 * A unit of work a durable runtime records (a Workflow's step.do): run once, its result kept, so
 * a run replayed after an evicted isolate skips it. Its result must be plain JSON.
 */
export type Step = <T>(name: string, work: () => Promise<T>, options: StepOptions) => Promise<T>;

export interface StepOptions {
  /** The longest its statements may take, every try included: a durable runtime gives the step up after it. */
  timeoutMs: number;
}

/** The bound of a step that runs `statements` statements, each under `statementTimeoutMs`. */
export const statementsTaking = (statements: number, statementTimeoutMs: number): StepOptions => ({
  timeoutMs: statements * statementTimeoutMs,
});

/** In process (Node, tests): a step is its work. */
export const inProcess: Step = (_name, work) => work();

/** A run a door launched elsewhere (a Workflow), run here under the id and start it was given. */
export interface Launched {
  id: string;
  startedAt: number;
  step: Step;
}

export interface Progress {
  done: number;
  total: number | null;
}

/** The fields of a report that a run has settled so far: kept in the report should it fail later. */
export type Checkpoint<R> = Partial<Omit<Outcome<R>, 'status' | 'summary'>>;

/** What the runner hands an operation that builds a report R. */
export interface OperationContext<R = unknown> {
  /** The run's report id: the lease's holder, the run ledger's key. */
  runId: string;
  /** Runs one step of the operation (a batch): durably on Workflows, in place elsewhere. */
  step: Step;
  /** Whether the run records its committed steps in the database (a launched run: onceInRun, runs.ts). */
  recordsSteps?: boolean;
  /**
   * The operation's preconditions hold (lock taken, schema understood) and it begins its
   * work: a respond-async request is answered 202 now. A failure before this is the
   * request's answer and leaves no report; after it, the report records it.
   */
  started(): void;
  progress(progress: Progress): void;
  /** The report's fields so far, kept in the report if the operation fails later. */
  checkpoint(fields: Checkpoint<R>): void;
  /**
   * Aborted when the run is cancelled (POST /reports/{id}/cancel), or when the client that waits
   * for the answer of a synchronous run goes away: for work that can stop mid-statement.
   */
  signal?: AbortSignal | undefined;
  /** At a step boundary: throws `cancelled` when someone cancelled the run (never for a client gone). */
  throwIfCancelled(): void;
  /** How long the lease outlives its last renewal (default LEASE_TTL_MS; tests shorten it). */
  leaseTtlMs?: number | undefined;
  /** The run took the lease over from `from`, whose lease had expired: the report says so. */
  tookOver(from: string): void;
}

/**
 * A context for running an operation outside the runner (benchmarks, tests): progress goes to
 * onProgress, which the operation does not wait for, so whatever it starts, its caller awaits.
 */
export function detachedContext<R>(onProgress: (progress: Progress) => void = () => undefined): OperationContext<R> {
  return {
    runId: newReportId(Date.now()),
    step: inProcess,
    started: () => undefined,
    progress: onProgress,
    checkpoint: () => undefined,
    throwIfCancelled: () => undefined,
    tookOver: () => undefined,
  };
}

export interface RunRequest<K extends ReportKind = ReportKind> {
  kind: K;
  actor: string;
  request: Record<string, unknown>;
  respondAsync: boolean;
  /** Whether the run changes the database (src/operations/runs.ts isChanging). */
  changing: boolean;
  /** The request's own signal: an operation that can stop early watches it. */
  signal?: AbortSignal | undefined;
  /** How the report records the failure that ends an operation; the door that started it knows. */
  describeFailure(error: unknown): ReportError;
  /**
   * Told the final report once it is stored, however the run ended after it started (a run refused
   * before it started throws to its caller instead): a chat door posts it. Its failure is logged only.
   */
  onEnded?: ((report: Report) => Promise<void>) | undefined;
}

export type ReportError = NonNullable<Report['error']>;

/** A synchronous run failed after it began: its report, stored with the failure, is `reportId`. */
export class OperationFailedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly reportId: string,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'OperationFailedError';
  }
}

/** The finished report, or (respond-async) the running one that Location points at. */
export type RunResult<R extends Report> = { mode: 'finished'; report: R } | { mode: 'accepted'; report: Report };

/** A report of kind R: what the runner settled, and the operation's outcome. */
function reportOf<R extends Report>(runner: Pick<R, RunnerField>, outcome: Outcome<R>): R {
  // Pick<R, K> and Omit<R, K> together are R; TypeScript cannot see it for a generic R.
  return { ...runner, ...outcome } as R;
}

/**
 * The one way every operation runs: makes the report (id, kind, actor, validated request,
 * timestamps), stores it, and with respond-async answers as soon as the operation has
 * started while the work goes on in the background, its progress stored as it goes.
 */
export async function runOperation<R extends Report>(
  deps: AppDeps,
  run: RunRequest<R['kind']>,
  execute: (ctx: OperationContext<R>) => Promise<Outcome<R>>,
  launched?: Launched,
): Promise<RunResult<R>> {
  const startedAt = launched?.startedAt ?? Date.now();
  const id = launched?.id ?? newReportId(startedAt);
  const createdAt = new Date(startedAt).toISOString();
  const interval = deps.progressIntervalMs ?? 1000;

  // The run ledger: a changing run cannot start without its row (a cancel must reach it); a read
  // goes on without one only where the ledger cannot record runs at all (a role that may only
  // read), cancellable from this process only. Any other failure to record it is the answer, so
  // the one-read-per-token rule cannot be slipped past.
  // A run whose report cannot be stored would leave nothing to follow: refused before it begins.
  await deps.store.check().catch((error: unknown) => {
    throw storeUnavailable(id, error);
  });
  await putUnstored(deps.store);

  // A changing run keeps its ledger on its own connections too (AppDeps.changes).
  const runDb = run.changing ? (deps.changes ?? deps.db) : deps.db;
  const ledger = new RunLedger(runDb);
  if (run.changing) await runDb.prepareChange?.();
  const ended = async (other: string) => {
    const report = await deps.store.get(other as ReportId).catch(() => null);
    return report && report.status !== 'running' ? report.status : null;
  };
  const switched = await ledger.start(id, run.kind, run.changing, run.actor, ended);
  if (!switched && run.changing)
    throw new ServiceError(
      'read-only',
      'The run ledger (sark_migrate.runs) cannot be written, so no changing run may start.',
    );
  const recorded = switched !== null;
  if (!recorded)
    console.warn(`report ${id}: the run ledger cannot record runs here, so only this process can cancel it.`);
  const cancel = switched ?? RunLedger.local(id);
  let takenOverFrom: string | undefined;

  let began = false;
  let signalStarted!: () => void;
  const startedSignal = new Promise<void>((resolve) => (signalStarted = resolve));
  let progress: NonNullable<Report['progress']> = { done: 0, total: null, updatedAt: createdAt };
  // Steps per second since the first progress, and when the run should end at that pace.
  let paceFrom: number | undefined;
  const pace = (done: number, total: number | null, now: number) => {
    paceFrom ??= now;
    const seconds = (now - paceFrom) / 1000;
    if (done === 0 || seconds <= 0) return {};
    const perSecond = done / seconds;
    return {
      stepsPerSecond: Math.round(perSecond * 100) / 100,
      ...(total !== null && total >= done ? { etaSeconds: Math.ceil((total - done) / perSecond) } : {}),
    };
  };
  let settled: Record<string, unknown> = {};
  let lastWrite = 0;
  let writing: Promise<void> = Promise.resolve();
  // The last write's failure, if it failed (a later one that succeeds clears it).
  let unstored: unknown;
  // Writes go one after another, so a late progress write never overtakes the final report.
  const persist = (report: Report) => {
    writing = writing
      .then(() => deps.store.put(report))
      .then(
        () => void (unstored = undefined),
        (e: unknown) => {
          unstored = e;
          console.error(`report ${id}: store failed`, e);
        },
      );
    return writing;
  };
  const keepUnstored = (report: Report) => {
    const pending = unstoredReports.get(deps.store) ?? new Map<string, Report>();
    unstoredReports.set(deps.store, pending.set(report.id, report));
  };
  const runnerFields = (finishedAt: number | null) => ({
    id,
    kind: run.kind,
    createdAt,
    finishedAt: finishedAt === null ? null : new Date(finishedAt).toISOString(),
    durationMs: finishedAt === null ? null : finishedAt - startedAt,
    actor: run.actor,
    request: run.request,
    progress,
    ...(takenOverFrom ? { takenOverFrom } : {}),
  });
  const running = (): Report => ({
    ...runnerFields(null),
    ...settled,
    status: 'running',
    summary: { message: 'Running.' },
  });

  const ctx: OperationContext<R> = {
    started() {
      if (began) return;
      began = true;
      // Stored at once, whoever waits: a process that dies mid-run leaves a report to end abandoned.
      void persist(running());
      lastWrite = Date.now();
      signalStarted();
    },
    progress({ done, total }) {
      const now = Date.now();
      progress = { done, total, updatedAt: new Date(now).toISOString(), ...pace(done, total, now) };
      if (began && Date.now() - lastWrite >= interval) {
        lastWrite = Date.now();
        void persist(running());
      }
    },
    checkpoint(fields) {
      // Only the kind's own fields: its status and summary are the outcome's, not a checkpoint's.
      const { status: _status, summary: _summary, ...rest } = fields as Record<string, unknown>;
      settled = rest;
    },
    runId: id,
    step: launched?.step ?? inProcess,
    recordsSteps: launched !== undefined,
    leaseTtlMs: deps.leaseTtlMs,
    // A respond-async run outlives its request on purpose.
    signal:
      run.respondAsync || !run.signal
        ? cancel.controller.signal
        : AbortSignal.any([cancel.controller.signal, run.signal]),
    throwIfCancelled() {
      if (cancel.settle()) throw cancelledError(id);
    },
    tookOver(from) {
      takenOverFrom = from;
    },
  };
  // The heartbeat also settles the switch in the run's own context, so a statement in flight (a
  // benchmark's) is cancelled too, not only the next step.
  const beat = async () => {
    if (recorded) await ledger.heartbeat(id).catch(() => undefined);
    cancel.settle();
  };
  const heartbeat = setInterval(() => void beat(), deps.heartbeatMs ?? HEARTBEAT_MS);
  const finish = async (status: Report['status']) => {
    clearInterval(heartbeat);
    await ledger
      .finish(id, status, recorded)
      .catch((e: unknown) => console.error(`report ${id}: run not marked ${status}`, e));
  };

  const tellEnded = (report: Report) =>
    run.onEnded?.(report).catch((e: unknown) => console.error(`report ${id}: its end was not told`, e));

  const job = (async (): Promise<R> => {
    let outcome: Outcome<R>;
    try {
      outcome = await execute(ctx);
    } catch (error) {
      const cancelled = cancel.settle() && isServiceError(error, 'cancelled');
      // A replayed Workflow refused before it started again (its lease taken over meanwhile, say)
      // had started the first time: its stored report records how it ended.
      if (!began && launched && (await deps.store.get(id as ReportId).catch(() => null))) began = true;
      if (!began) {
        // Refused before it started (a 409, a 422): nothing happened and nothing was stored, so
        // the ledger forgets it too; the problem is the answer.
        clearInterval(heartbeat);
        if (recorded)
          await ledger.forget(id).catch((e: unknown) => console.error(`report ${id}: run not forgotten`, e));
        throw error;
      }
      await finish(cancelled ? 'cancelled' : 'failed');
      const failure = run.describeFailure(error);
      // A failure the service cannot explain (500) or the database's (503) is logged here: a
      // respond-async run has no request left to log it.
      if (failure.status >= 500) console.error(`report ${id}: operation failed`, error);
      const failed: Report = {
        ...runnerFields(Date.now()),
        ...settled,
        status: cancelled ? 'cancelled' : 'failed',
        summary: { message: `${cancelled ? 'Cancelled' : 'Failed'}: ${failure.detail}` },
        error: failure,
      };
      await persist(failed);
      if (unstored !== undefined) keepUnstored(failed);
      await tellEnded(failed);
      throw new OperationFailedError(error, id);
    }
    const report = reportOf<R>(runnerFields(Date.now()), outcome);
    await persist(report);
    await finish(report.status);
    await tellEnded(report);
    if (unstored !== undefined) {
      keepUnstored(report);
      throw storeUnavailable(id, unstored, report);
    }
    return report;
  })();

  // The runtime keeps the job alive even if the client goes away mid-request: on Workers a
  // disconnect would otherwise cancel a change half-way (a concurrent index build, say).
  deps.defer(job.catch(() => undefined));
  if (!run.respondAsync) return { mode: 'finished', report: await job };
  const first = await Promise.race([
    startedSignal.then(() => 'started' as const),
    job.then(
      () => 'ended' as const,
      () => 'ended' as const,
    ),
  ]);
  if (first === 'ended' && !began) return { mode: 'finished', report: await job }; // failed (the problem) or done at once
  await writing; // the running report is stored before Location points at it
  if (unstored !== undefined) throw storeUnavailable(id, unstored);
  return { mode: 'accepted', report: running() };
}

/**
 * The report store did not take the run's report. Before the run began: nothing ran. After it,
 * the database work stands (the run ledger has the run, POST /reports/{id}/cancel reaches it)
 * but no Location would find the report; an ended run's outcome travels in the facts.
 */
function storeUnavailable(id: string, cause: unknown, ended?: Report): ServiceError {
  const what = ended
    ? `Run ${id} ended ${ended.status}, and its work in the database stands, but its report could not be stored.`
    : `The report store does not answer, so run ${id} cannot keep its report.`;
  return new ServiceError('store-unavailable', `${what} Check the report store (REPORTS_DIR, the R2 binding).`, {
    cause,
    facts: { reportId: id, ...(ended ? { status: ended.status, summary: ended.summary } : {}) },
  });
}

/** RFC 7240: does the Prefer header ask for respond-async? */
export function prefersAsync(prefer: string | undefined): boolean {
  return (prefer ?? '').split(',').some((p) => p.trim().split(/[;=]/)[0]!.trim().toLowerCase() === 'respond-async');
}
