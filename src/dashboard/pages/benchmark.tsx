/** @jsxImportSource hono/jsx */
import type { PatternResult, Regression } from '../../reports/benchmark.js';
import type { Report, ReportSummary } from '../../reports/schemas.js';
import { ms, Status, YesNo } from '../layout.js';
import { ProgressBlock } from '../progress.js';

export interface BaselineChoice {
  /** The report compared against, if any. */
  report: Report | null;
  /** Other benchmark reports to choose from. */
  options: ReportSummary[];
  regressions: Regression[];
  incomparable: { pattern: string; reason: string }[];
}

const WIDTH = 760;
const LABEL = 270;
const PLOT = 400;
const ROW = 30;
const TOP = 10;

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * p50 (a dot) and p95 (a bar) of each pattern, with the runbook's target (a vertical line on its
 * row) and the baseline's p50 (a diamond); regressions are marked in words too. Drawn on the
 * server as SVG: no script, no CDN.
 */
export function BenchmarkChart(props: { results: PatternResult[]; baseline: BaselineChoice }) {
  const baseP50 = new Map(
    ((props.baseline.report?.results ?? []) as PatternResult[]).map((r) => [r.pattern, r.p50Ms] as const),
  );
  const regressed = new Set(props.baseline.regressions.map((r) => r.pattern));
  const values = props.results.flatMap((r) => [
    r.p95Ms ?? 0,
    r.p50Ms ?? 0,
    r.targetMs ?? 0,
    baseP50.get(r.pattern) ?? 0,
  ]);
  const max = Math.max(1, ...values) * 1.1;
  const x = (value: number) => round(LABEL + (value / max) * PLOT);
  const height = TOP + props.results.length * ROW + 40;
  return (
    <figure>
      <svg
        class="chart"
        role="img"
        aria-labelledby="chart-title"
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={String(WIDTH)}
        height={String(height)}
      >
        <title id="chart-title">
          p50 and p95 latency per pattern, with each pattern's runbook target
          {props.baseline.report ? ' and the baseline p50' : ''}
        </title>
        <line class="axis" x1={String(LABEL)} y1={String(TOP)} x2={String(LABEL)} y2={String(height - 30)} />
        {props.results.map((r, i) => {
          const y = TOP + i * ROW;
          const mid = y + ROW / 2;
          const base = baseP50.get(r.pattern);
          return (
            <g class="pattern" data-pattern={r.pattern}>
              <text class="label" x={String(LABEL - 8)} y={String(mid + 4)} text-anchor="end">
                {r.pattern}
              </text>
              {r.p50Ms === null || r.p95Ms === null ? (
                <text class="note" x={String(LABEL + 6)} y={String(mid + 4)}>
                  {r.skipped ? `skipped: ${r.reason ?? ''}` : `failed: ${r.error ?? ''}`}
                </text>
              ) : (
                <>
                  <rect
                    class={r.withinTarget === false ? 'p95 missed' : 'p95'}
                    x={String(LABEL)}
                    y={String(y + 8)}
                    width={String(Math.max(1, x(r.p95Ms) - LABEL))}
                    height={String(ROW - 16)}
                  >
                    <title>{`${r.pattern} p95 ${ms(r.p95Ms)}`}</title>
                  </rect>
                  <circle class="mark p50" cx={String(x(r.p50Ms))} cy={String(mid)} r="5">
                    <title>{`${r.pattern} p50 ${ms(r.p50Ms)}`}</title>
                  </circle>
                </>
              )}
              {r.targetMs !== null ? (
                <line
                  class="target"
                  data-role="target"
                  x1={String(x(r.targetMs))}
                  x2={String(x(r.targetMs))}
                  y1={String(y + 3)}
                  y2={String(y + ROW - 3)}
                >
                  <title>{`${r.pattern} runbook target ${ms(r.targetMs)} (p95)`}</title>
                </line>
              ) : null}
              {base !== undefined && base !== null ? (
                <path class="baseline" d={`M${x(base)} ${mid - 6} l6 6 l-6 6 l-6 -6 z`}>
                  <title>{`${r.pattern} baseline p50 ${ms(base)}`}</title>
                </path>
              ) : null}
              {regressed.has(r.pattern) ? (
                <text class="regression" x={String(WIDTH - 4)} y={String(mid + 4)} text-anchor="end">
                  ▲ regression
                </text>
              ) : r.withinTarget === false ? (
                <text class="missed-label" x={String(WIDTH - 4)} y={String(mid + 4)} text-anchor="end">
                  ✖ over target
                </text>
              ) : null}
            </g>
          );
        })}
        <text class="axis-label" x={String(LABEL)} y={String(height - 12)}>
          0 ms
        </text>
        <text class="axis-label" x={String(LABEL + PLOT)} y={String(height - 12)} text-anchor="end">
          {ms(max)}
        </text>
      </svg>
      <figcaption>
        Bar: p95. Dot: p50. Vertical line: SARK's runbook target (p95) for the pattern.
        {props.baseline.report ? ' Diamond: the baseline p50.' : ''} “▲ regression”: p50 slower than the baseline beyond
        the noise; “✖ over target”: p95 above the target.
      </figcaption>
    </figure>
  );
}

export function BenchmarkSection(props: { report: Report; baseline: BaselineChoice }) {
  const { report, baseline } = props;
  if (report.status === 'running') return <ProgressBlock report={report} />;
  const results = (report.results ?? []) as PatternResult[];
  const regressionOf = new Map(baseline.regressions.map((r) => [r.pattern, r]));
  const incomparable = new Map(baseline.incomparable.map((r) => [r.pattern, r.reason]));
  const baseP50 = new Map(((baseline.report?.results ?? []) as PatternResult[]).map((r) => [r.pattern, r.p50Ms]));
  return (
    <>
      <form method="get" action={`/dashboard/reports/${report.id}`} class="filters">
        <label>
          Compare with{' '}
          <select name="baseline">
            <option value="none">no baseline</option>
            {baseline.options.map((option) => (
              <option value={option.id} selected={baseline.report?.id === option.id}>
                {`${option.createdAt.replace('T', ' ').slice(0, 19)} (${option.status}, ${option.actor})`}
              </option>
            ))}
          </select>
        </label>{' '}
        <button type="submit">Compare</button>
      </form>
      {baseline.report ? (
        <p>
          Baseline: <a href={`/dashboard/reports/${baseline.report.id}`}>{baseline.report.id}</a> —{' '}
          {baseline.regressions.length === 0 ? (
            <Status status="ok" label="no regression" />
          ) : (
            <Status status="regressed" label={`${baseline.regressions.length} regressed`} />
          )}
        </p>
      ) : null}
      <BenchmarkChart results={results} baseline={baseline} />
      <table>
        <caption>Latency per pattern (round trip)</caption>
        <thead>
          <tr>
            <th scope="col">Pattern</th>
            <th scope="col">p50</th>
            <th scope="col">p95</th>
            <th scope="col">Target (p95)</th>
            <th scope="col">Within target</th>
            <th scope="col">Baseline p50</th>
            <th scope="col">Against the baseline</th>
            <th scope="col">Indexes used</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => {
            const regression = regressionOf.get(r.pattern);
            return (
              <tr>
                <th scope="row">
                  <code>{r.pattern}</code>
                </th>
                <td class="num">{ms(r.p50Ms)}</td>
                <td class="num">{ms(r.p95Ms)}</td>
                <td class="num">{ms(r.targetMs)}</td>
                <td>
                  <YesNo value={r.withinTarget} yes="within" no="missed" />
                </td>
                <td class="num">{ms(baseP50.get(r.pattern))}</td>
                <td>
                  {regression ? (
                    <Status status="regressed" label={`regressed ×${regression.ratio}`} />
                  ) : incomparable.has(r.pattern) ? (
                    `not compared: ${incomparable.get(r.pattern)}`
                  ) : baseline.report ? (
                    <Status status="ok" label="no regression" />
                  ) : (
                    '–'
                  )}
                </td>
                <td>
                  {r.indexes.length > 0 ? r.indexes.join(', ') : r.usesIndex === false ? 'none (sequential scan)' : '–'}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
