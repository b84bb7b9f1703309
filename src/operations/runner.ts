import { isServiceError } from '../errors.js';
import type { AppDeps } from './deps.js';
import { newReportId } from '../reports/ids.js';
import type { Report, ReportKind } from '../reports/schemas.js';

/** What an operation returns: its outcome status, headline figures, and the fields of its kind. */
export interface OperationOutcome {
  status: string;
  summary: Record<string, unknown>;
  details: Record<string, unknown>;
}

export interface Progress {
  done: number;
  total: number | null;
}

/** What the runner hands an operation. */
export interface OperationContext {
  /**
   * The operation's preconditions hold (lock taken, schema understood) and it begins its
   * work: a respond-async request is answered 202 now. A failure before this is the
   * request's answer and leaves no report; after it, the report records it.
   */
  started(): void;
  progress(progress: Progress): void;
  /** The report's fields so far, kept in the report if the operation fails later. */
  checkpoint(details: Record<string, unknown>): void;
  /** Aborted when the client that waits for the answer goes away (never for respond-async runs). */
  signal?: AbortSignal | undefined;
}

/**
 * A context for running an operation outside the runner (benchmarks, tests): progress goes to
 * onProgress, which the operation does not wait for, so whatever it starts, its caller awaits.
 */
export function detachedContext(onProgress: (progress: Progress) => void = () => undefined): OperationContext {
  return { started: () => undefined, progress: onProgress, checkpoint: () => undefined };
}

export interface RunRequest {
  kind: ReportKind;
  actor: string;
  request: Record<string, unknown>;
  respondAsync: boolean;
  /** The request's own signal: an operation that can stop early watches it. */
  signal?: AbortSignal | undefined;
  /** How the report records the failure that ends an operation; the door that started it knows. */
  describeFailure(error: unknown): ReportError;
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

export type RunResult = { mode: 'finished' | 'accepted'; report: Report };

/**
 * The one way every operation runs: makes the report (id, kind, actor, validated request,
 * timestamps), stores it, and with respond-async answers as soon as the operation has
 * started while the work goes on in the background, its progress stored as it goes.
 */
export async function runOperation(
  deps: AppDeps,
  run: RunRequest,
  execute: (ctx: OperationContext) => Promise<OperationOutcome>,
): Promise<RunResult> {
  const startedAt = Date.now();
  const base: Report = {
    id: newReportId(startedAt),
    kind: run.kind,
    status: 'running',
    createdAt: new Date(startedAt).toISOString(),
    finishedAt: null,
    durationMs: null,
    actor: run.actor,
    request: run.request,
    summary: {},
    progress: { done: 0, total: null, updatedAt: new Date(startedAt).toISOString() },
  };
  const interval = deps.progressIntervalMs ?? 1000;

  let began = false;
  let signalStarted!: () => void;
  const startedSignal = new Promise<void>((resolve) => (signalStarted = resolve));
  let progress: Report['progress'] = base.progress;
  let partial: Record<string, unknown> = {};
  let lastWrite = 0;
  let writing: Promise<void> = Promise.resolve();
  // Writes go one after another, so a late progress write never overtakes the final report.
  const persist = (report: Report) => {
    writing = writing
      .then(() => deps.store.put(report))
      .catch((e: unknown) => console.error(`report ${base.id}: store failed`, e));
    return writing;
  };
  const running = () => ({ ...base, ...partial, progress });

  const ctx: OperationContext = {
    started() {
      if (began) return;
      began = true;
      if (run.respondAsync) void persist(running());
      lastWrite = Date.now();
      signalStarted();
    },
    progress({ done, total }) {
      progress = { done, total, updatedAt: new Date().toISOString() };
      if (run.respondAsync && began && Date.now() - lastWrite >= interval) {
        lastWrite = Date.now();
        void persist(running());
      }
    },
    checkpoint(details) {
      partial = details;
    },
    // A respond-async run outlives its request on purpose.
    signal: run.respondAsync ? undefined : run.signal,
  };

  const finish = (fields: Partial<Report>): Report => {
    const finishedAt = Date.now();
    return {
      ...base,
      ...fields,
      progress,
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - startedAt,
    };
  };

  const job = (async (): Promise<Report> => {
    let report: Report;
    try {
      const outcome = await execute(ctx);
      report = finish({ status: outcome.status, summary: outcome.summary, ...outcome.details });
    } catch (error) {
      if (!began) throw error; // nothing happened and nothing was stored: the problem is the answer
      if (!isServiceError(error)) console.error(`report ${base.id}: operation failed`, error);
      report = finish({ ...partial, status: 'failed', summary: {}, error: run.describeFailure(error) });
      await persist(report);
      if (run.respondAsync) return report;
      throw new OperationFailedError(error, base.id);
    }
    await persist(report);
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
  return { mode: 'accepted', report: running() };
}

/** RFC 7240: does the Prefer header ask for respond-async? */
export function prefersAsync(prefer: string | undefined): boolean {
  return (prefer ?? '').split(',').some((p) => p.trim().split(/[;=]/)[0]!.trim().toLowerCase() === 'respond-async');
}
