/**
 * The figures of one or more load runs (rounds) as markdown tables: what `npm run load` prints
 * and docs/performance.md quotes. Rates and latencies are the median of the rounds' own; counts
 * are totals; "all answered in" is the slowest round's.
 */
import type { ChangingRunsResult } from './changing.js';
import { SCENARIOS, type LoadResult } from './run.js';

const ms = (x: number | null) => (x === null ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);

function median(xs: readonly (number | null)[]): number | null {
  const s = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const total = (xs: readonly Record<string, number>[]) =>
  xs.reduce<Record<string, number>>((sum, x) => {
    for (const [key, n] of Object.entries(x)) sum[key] = (sum[key] ?? 0) + n;
    return sum;
  }, {});

const counts = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ') || '–';

function readRows(results: readonly LoadResult[]): string[] {
  const groups = results[0]?.mixed?.groups ?? [];
  return groups.map((g, i) => {
    const all = results.flatMap((r) => (r.mixed?.groups[i] ? [r.mixed.groups[i]] : []));
    const m = (pick: (x: (typeof all)[number]) => number | null) => median(all.map(pick));
    const errors = all.reduce((sum, x) => sum + x.errors, 0);
    return [
      g.request,
      g.callers,
      g.connections,
      all.reduce((sum, x) => sum + x.responses, 0),
      m((x) => x.perSecond)!.toFixed(1),
      ms(m((x) => x.p50Ms)),
      ms(m((x) => x.p99Ms)),
      `${ms(m((x) => x.okP50Ms))} / ${ms(m((x) => x.okP99Ms))}`,
      `${counts(total(all.map((x) => x.statuses)))}${errors ? `, errors: ${errors}` : ''}`,
      counts(total(all.map((x) => x.reportStatuses))),
    ].join(' | ');
  });
}

function changingRow(
  processes: number,
  results: readonly LoadResult[],
  pick: (r: LoadResult) => ChangingRunsResult | null,
  scenario: string,
): string {
  const all = results.flatMap((r) => (pick(r) ? [pick(r)!] : []));
  const held = results.every((r) => !r.violations.some((v) => v.startsWith(`${scenario}:`)));
  const ran = all.filter((x) => x.winner).length;
  return [
    processes,
    all.reduce((sum, x) => sum + x.requests, 0),
    `${ran} (${ms(median(all.map((x) => x.winner?.durationMs ?? null)))})`,
    all.reduce((sum, x) => sum + x.refused, 0),
    `${ms(median(all.map((x) => x.refusedP50Ms)))} / ${ms(median(all.map((x) => x.refusedP99Ms)))}`,
    ms(Math.max(...all.map((x) => x.wallMs))),
    held && all.length === results.length ? 'yes' : 'no',
  ].join(' | ');
}

export function markdownTables(results: readonly LoadResult[]): string {
  const o = results[0]!.options;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const rounds =
    results.length === 1 ? 'one round' : `${results.length} rounds (medians of the rounds; counts: totals)`;
  return [
    `${o.servers} servers × ${o.tools} tools, ${rounds}; ${results[0]!.machine.cores} cores, load average (1/5/15 min):`,
    ...results.map(
      (r, i) => `round ${i + 1}: ${load(r.machine.loadBefore)} before, ${load(r.machine.loadAfter)} after.`,
    ),
    '',
    `Reads: autocannon, ${o.durationS} s, ${o.connections} connections, one service process:`,
    '',
    '| request | callers | connections | responses | requests/s | p50 | p99 | p50 / p99 of the 200s | statuses | reports |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---|',
    ...readRows(results).map((row) => `| ${row} |`),
    '',
    `The reads in sark_migrate.runs afterwards: ${counts(total(results.map((r) => r.readRuns)))}.`,
    '',
    `Changing runs: ${o.changingRuns} × POST /migrate {"dryRun": false} sent at once, on one process, then (after a rollback) spread over two:`,
    '',
    '| processes | requests | ran (median duration) | 409 operation-in-progress | 409 p50 / p99 | all answered in | exactly one, data exact, lease free |',
    '|---:|---:|---:|---:|---:|---:|---|',
    `| ${changingRow(1, results, (r) => r.oneProcess, SCENARIOS.oneProcess)} |`,
    `| ${changingRow(2, results, (r) => r.twoProcesses, SCENARIOS.twoProcesses)} |`,
  ].join('\n');
}
