import type { components } from './api.js';
import type { Report } from './service.js';

type Schemas = components['schemas'];

/** Ids shown per failed check: enough to start looking, the report has the rest. */
const SAMPLE = 5;

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '-' : `${value} ms`);

function idsOf(sample: readonly string[]): string {
  if (sample.length === 0) return '';
  const shown = sample.slice(0, SAMPLE).join(', ');
  return ` [${shown}${sample.length > SAMPLE ? ', …' : ''}]`;
}

/** The lines a report's kind adds below its summary. */
function detailsOf(report: Report, program: string): string[] {
  switch (report.kind) {
    case 'validation': {
      const v = report as Schemas['ValidationReport'];
      return (v.checks ?? [])
        .filter((c) => !c.passed && !c.skipped)
        .map((c) => `  ✗ ${c.name} (${c.severity}): ${c.message}${idsOf(c.sample)}`);
    }
    case 'preflight': {
      const p = report as Schemas['PreflightReport'];
      const d = p.estimate?.durationMs;
      return [
        ...(p.checks ?? [])
          .filter((c) => !c.passed && !c.skipped)
          .map((c) => `  ✗ ${c.name} (${c.severity}): ${c.message}${idsOf(c.sample)}`),
        ...(d ? [`  estimate: ${ms(d.expected)} (${ms(d.low)} to ${ms(d.high)})`] : []),
      ];
    }
    case 'migration': {
      const m = report as Schemas['MigrationReport'];
      return m.dryRun && m.status === 'succeeded' ? [`  To migrate as planned: ${program} apply migrate ${m.id}`] : [];
    }
    case 'rollback': {
      const r = report as Schemas['RollbackReport'];
      return r.dryRun && r.planId
        ? [`  planId: ${r.planId}`, `  To roll back as planned: ${program} apply rollback ${r.id}`]
        : [];
    }
    case 'benchmark': {
      const b = report as Schemas['BenchmarkReport'];
      return [
        ...(b.results ?? []).map((r) =>
          r.skipped || r.error
            ? `  ${r.pattern}: ${r.error ?? `skipped (${r.reason ?? 'no reason given'})`}`
            : `  ${r.pattern}: p50 ${ms(r.p50Ms)}, p95 ${ms(r.p95Ms)}${r.targetMs === null ? '' : `, target ${ms(r.targetMs)} ${r.withinTarget ? 'met' : 'missed'}`}`,
        ),
        ...(b.regressions ?? []).map((r) => `  regressed: ${r.pattern} p50 ${ms(r.baselineP50Ms)} → ${ms(r.p50Ms)}`),
      ];
    }
    case 'optimization': {
      const o = report as Schemas['OptimizationReport'];
      if (o.action === 'apply')
        return (o.applied ?? []).map((a) => `  ${a.name}: ${a.status}${a.error ? ` (${a.error})` : ''}`);
      return (o.recommendations ?? []).map((r) => `  ${r.name}: priority ${r.priority}`);
    }
    case 'rehearsal': {
      const h = report as Schemas['RehearsalReport'];
      return [
        ...(h.steps ?? []).map(
          (s) => `  ${s.passed ? '✓' : '✗'} ${s.step}: ${s.status}${s.error ? ` (${s.error.detail})` : ''}`,
        ),
        `  copy: ${h.copy.method} ${h.copy.name}, ${h.copy.dropped ? 'dropped' : `kept: ${h.copy.reach ?? ''}`}`,
      ];
    }
    case 'restore': {
      const r = report as Schemas['RestoreReport'];
      return [
        ...(['resources', 'capabilities'] as const)
          .filter((t) => r.tables[t].colliding > 0)
          .map((t) => `  ${t}: ${r.tables[t].colliding} colliding${idsOf(r.tables[t].collisions)}`),
        ...(r.dryRun && r.status === 'succeeded' && r.tables.resources.colliding + r.tables.capabilities.colliding === 0
          ? [`  To restore as checked: ${program} apply restore ${r.id}`]
          : []),
      ];
    }
  }
}

/** A report, readably: kind, id and outcome; the summary's message; what its kind adds; where it is kept. */
export function summaryOf(report: Report, exitCode: number, baseUrl: string, program: string): string {
  const outcome = report.status === 'running' ? 'running' : `${report.status} (exit ${exitCode})`;
  const message = typeof report.summary.message === 'string' ? report.summary.message : '';
  return [
    `${report.kind} ${report.id}: ${outcome}`,
    ...(message ? [`  ${message}`] : []),
    ...(report.error ? [`  error: ${report.error.status} ${report.error.title}: ${report.error.detail}`] : []),
    ...detailsOf(report, program),
    `  report: ${baseUrl.replace(/\/+$/, '')}/reports/${report.id}`,
    '',
  ].join('\n');
}

/** One line of a running report's progress, for a terminal. */
export function progressOf(report: Report): string {
  const p = report.progress;
  const steps = p ? `${p.done}/${p.total ?? '?'} steps` : 'started';
  const eta = p?.etaSeconds !== undefined ? `, about ${p.etaSeconds} s left` : '';
  return `${report.kind} ${report.id}: running, ${steps}${eta}`;
}
