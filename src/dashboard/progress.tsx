/** @jsxImportSource hono/jsx */
import type { Report } from '../reports/schemas.js';
import { duration } from './layout.js';

/** What a run's progress shows, the same on the page and in the JSON the live script polls. */
export interface ProgressView {
  status: string;
  done: number;
  /** Null while the total is not known yet (an indeterminate bar). */
  total: number | null;
  text: string;
  rate: string;
  eta: string;
}

/** Rows written (copied, or removed) so far, where the kind counts them. */
function rowsOf(report: Report): number | null {
  const tables = report.tables as Record<string, Record<string, unknown>> | undefined;
  if (!tables) return null;
  let rows = 0;
  for (const table of Object.values(tables)) {
    const n = table.copied ?? table.removed;
    if (typeof n === 'number') rows += n;
  }
  return rows;
}

export function progressView(report: Report, now = Date.now()): ProgressView {
  const batches = report.batches as { planned?: number; committed?: number } | undefined;
  const running = report.status === 'running';
  // Finished: the batches that committed of those planned; running: the runner's progress.
  const done = running ? (report.progress?.done ?? 0) : (batches?.committed ?? report.progress?.done ?? 0);
  const total = running ? (report.progress?.total ?? null) : (batches?.planned ?? report.progress?.total ?? done);
  const unit = batches || report.kind === 'migration' || report.kind === 'rollback' ? 'batches' : 'steps';
  const end = report.finishedAt ? Date.parse(report.finishedAt) : now;
  const seconds = Math.max(0, (end - Date.parse(report.createdAt)) / 1000);
  const rows = rowsOf(report);
  const rate =
    rows !== null && seconds > 0 && report.dryRun !== true
      ? `${Math.round(rows / seconds).toLocaleString('en')} rows/s`
      : report.progress?.stepsPerSecond !== undefined
        ? `${report.progress.stepsPerSecond} ${unit}/s`
        : '–';
  const eta = running
    ? report.progress?.etaSeconds !== undefined
      ? duration(report.progress.etaSeconds * 1000)
      : 'not known yet'
    : 'ended';
  return {
    status: report.status,
    done,
    total,
    text: total === null ? `${done} ${unit} done, total not known yet` : `${done} of ${total} ${unit}`,
    rate,
    eta,
  };
}

/** The progress bar and its figures; the live script updates the elements it names by id. */
export function ProgressBlock(props: { report: Report }) {
  const view = progressView(props.report);
  const running = props.report.status === 'running';
  return (
    <section
      aria-labelledby="progress-heading"
      data-live={running ? `/dashboard/reports/${props.report.id}/progress` : undefined}
    >
      <h2 id="progress-heading">Progress</h2>
      <p>
        {view.total === null ? (
          <progress id="run-progress" aria-describedby="run-progress-text"></progress>
        ) : (
          <progress
            id="run-progress"
            value={String(view.done)}
            max={String(Math.max(view.total, 1))}
            aria-describedby="run-progress-text"
          ></progress>
        )}{' '}
        <span id="run-progress-text" aria-live="polite">
          {view.text}
        </span>
      </p>
      <dl class="facts">
        <dt>Rate</dt>
        <dd id="run-rate">{view.rate}</dd>
        <dt>Time left</dt>
        <dd id="run-eta">{view.eta}</dd>
      </dl>
      {running ? (
        <p class="hint">
          This page follows the run. Without JavaScript it reloads itself every few seconds;{' '}
          <a href={`/dashboard/reports/${props.report.id}`}>reload now</a>.
        </p>
      ) : null}
    </section>
  );
}
