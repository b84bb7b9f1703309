/** The figures of a load run as markdown tables: what `npm run load` prints and docs/performance.md quotes. */
import type { ChangingRunsResult } from './changing.js';
import { SCENARIOS, type LoadResult } from './run.js';

const ms = (x: number | null) => (x === null ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
const statuses = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([code, n]) => `${code}: ${n}`)
    .join(', ');

function changingRow(label: string, r: ChangingRunsResult | null, held: boolean): string {
  if (!r) return `| ${label} | – | – | – | – | – | – |`;
  const ran = r.winner ? `1 (${ms(r.winner.durationMs)})` : '0';
  return `| ${label} | ${r.requests} | ${ran} | ${r.refused} | ${ms(r.refusedP50Ms)} / ${ms(r.refusedP99Ms)} | ${ms(r.wallMs)} | ${held ? 'yes' : 'no'} |`;
}

export function markdownTables(result: LoadResult): string {
  const o = result.options;
  const held = (scenario: string) => !result.violations.some((v) => v.startsWith(`${scenario}:`));
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `${o.servers} servers × ${o.tools} tools; ${result.machine.cores} cores, load average (1/5/15 min) ${load(result.machine.loadBefore)} before, ${load(result.machine.loadAfter)} after.`,
    '',
    `Reads: autocannon, ${o.durationS} s, ${o.connections} connections, one service process:`,
    '',
    '| request | callers | connections | responses | requests/s | p50 | p99 | p50 / p99 of the 200s | statuses | reports |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---|',
    ...(result.mixed?.groups ?? []).map(
      (g) =>
        `| ${g.request} | ${g.callers} | ${g.connections} | ${g.responses} | ${g.perSecond.toFixed(1)} | ${ms(g.p50Ms)} | ${ms(g.p99Ms)} | ${ms(g.okP50Ms)} / ${ms(g.okP99Ms)} | ${statuses(g.statuses)}${g.errors ? `, errors: ${g.errors}` : ''} | ${statuses(g.reportStatuses) || '–'} |`,
    ),
    '',
    `The reads in sark_migrate.runs afterwards: ${statuses(result.readRuns) || '–'}.`,
    '',
    `Changing runs: POST /migrate {"dryRun": false}, all sent at once:`,
    '',
    '| processes | requests | ran (its duration) | 409 operation-in-progress | 409 p50 / p99 | all answered in | exactly one, data exact, lease free |',
    '|---|---:|---:|---:|---:|---:|---|',
    changingRow('1', result.oneProcess, held(SCENARIOS.oneProcess)),
    changingRow('2', result.twoProcesses, held(SCENARIOS.twoProcesses)),
  ];
  return lines.join('\n');
}
