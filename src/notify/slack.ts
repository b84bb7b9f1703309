import type { HealthReport } from '../operations/probe.js';
import type { Report, ReportSummary } from '../reports/schemas.js';

/**
 * Slack messages as Block Kit (https://api.slack.com/block-kit): plain data, made here for every
 * door that answers Slack (the slash command, a button, the end of a run on Node or in a Workflow).
 */

export type TextObject = { type: 'plain_text'; text: string; emoji?: boolean } | { type: 'mrkdwn'; text: string };

export interface Button {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value: string;
  style?: 'primary' | 'danger';
  confirm?: {
    title: { type: 'plain_text'; text: string };
    text: { type: 'mrkdwn'; text: string };
    confirm: { type: 'plain_text'; text: string };
    deny: { type: 'plain_text'; text: string };
  };
}

export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' }
  | { type: 'actions'; block_id?: string; elements: Button[] };

export interface SlackMessage {
  response_type?: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
  text: string;
  blocks?: Block[];
}

/** Action ids of the two buttons under a plan. */
export const APPLY_ACTION = 'sark_apply';
export const CANCEL_ACTION = 'sark_cancel';

/** What an Apply button carries: the plan's report, and the body of the run that applies it. */
export interface ApplyValue {
  kind: 'migration' | 'rollback' | 'optimization';
  /** The report id of the plan (the dry run) the button sits under. */
  plan: string;
  body: Record<string, unknown>;
}

/** Slack's mrkdwn needs only these three escaped. */
export const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// Slack's limits: a section's text 3,000 characters, a header's 150, ten fields per section.
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const mrkdwn = (text: string): TextObject => ({ type: 'mrkdwn', text: clip(text, 3000) });
const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
const header = (text: string): Block => ({ type: 'header', text: { type: 'plain_text', text: clip(text, 150) } });
const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] });

export const ephemeral = (text: string, blocks?: Block[]): SlackMessage => ({
  response_type: 'ephemeral',
  text,
  ...(blocks ? { blocks } : {}),
});

const TITLES: Record<Report['kind'], string> = {
  migration: 'Migration',
  validation: 'Validation',
  benchmark: 'Benchmark',
  optimization: 'Optimization',
  rollback: 'Rollback',
  rehearsal: 'Rehearsal',
  preflight: 'Preflight',
  restore: 'Restore',
};

/** How a run reads in one line: `Migration (dry run)`, `Optimization (plan)`. */
export function runTitle(kind: Report['kind'], request: Record<string, unknown>): string {
  const title = TITLES[kind];
  if ((kind === 'migration' || kind === 'rollback') && request.dryRun !== false) return `${title} (dry run)`;
  if (kind === 'optimization') return `${title} (${String(request.action ?? 'plan')})`;
  if (kind === 'validation') return `${title} (${String(request.mode ?? 'full')})`;
  return title;
}

export const reportUrl = (origin: string, id: string) => `${origin}/reports/${id}`;

/** The summary's figures, flattened: `removed: 12`, `tables.resources.toRemove: 5`. */
function figures(value: unknown, path = ''): [string, number | boolean][] {
  if (typeof value === 'number' || typeof value === 'boolean') return [[path, value]];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => figures(inner, path ? `${path}.${key}` : key));
}

/** The figures a plan's reader compares: its summary, its counts per table, its planId. */
function planFigures(report: Report): Map<string, string> {
  const all = [...figures(report.summary), ...figures((report as { tables?: unknown }).tables, 'tables')];
  const map = new Map(all.map(([k, v]) => [k, String(v)]));
  const planId = (report as { planId?: unknown }).planId;
  if (typeof planId === 'string') map.set('planId', planId);
  const recommended = (report.summary as { recommended?: unknown }).recommended;
  if (Array.isArray(recommended)) map.set('recommended', recommended.join(', ') || 'none');
  return map;
}

/** What differs between an earlier plan and a new one, a line per figure. */
export function planChanges(previous: Report, current: Report): string[] {
  const before = planFigures(previous);
  const after = planFigures(current);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  return keys
    .filter((k) => before.get(k) !== after.get(k))
    .map((k) => `${k}: ${before.get(k) ?? '—'} → ${after.get(k) ?? '—'}`);
}

/**
 * The body of the run that applies a plan, or null when the report is no plan (or one with nothing
 * to do): a dry run of migrate or rollback, or an optimize plan with high or medium candidates.
 */
export function applyBodyOf(report: Report): ApplyValue['body'] | null {
  if (report.status !== 'succeeded') return null;
  const request = report.request;
  const dryRun = (report as { dryRun?: unknown }).dryRun === true;
  // A migration's or a rollback's run goes ahead only while the database still matches the dry run (its planId).
  if ((report.kind === 'migration' || report.kind === 'rollback') && dryRun) {
    const planId = (report as { planId?: unknown }).planId;
    if (typeof planId !== 'string' || planId === '') return null;
    const { dryRun: _d, ...rest } = request;
    return { ...rest, dryRun: false, planId };
  }
  if (report.kind === 'optimization' && request.action === 'plan') {
    const recommended = (report.summary as { recommended?: string[] }).recommended ?? [];
    return recommended.length > 0 ? { action: 'apply', indexes: recommended } : null;
  }
  return null;
}

function applyButtons(value: ApplyValue): Block {
  const what =
    value.kind === 'optimization'
      ? `build ${String((value.body.indexes as string[]).join(', '))}`
      : 'change the database';
  return {
    type: 'actions',
    block_id: `plan:${value.plan}`,
    elements: [
      {
        type: 'button',
        action_id: APPLY_ACTION,
        text: { type: 'plain_text', text: 'Apply' },
        style: 'primary',
        value: JSON.stringify(value),
        confirm: {
          title: { type: 'plain_text', text: 'Apply this plan?' },
          text: { type: 'mrkdwn', text: clip(`This will ${escape(what)} (needs the \`apply\` scope).`, 300) },
          confirm: { type: 'plain_text', text: 'Apply' },
          deny: { type: 'plain_text', text: 'Not now' },
        },
      },
      {
        type: 'button',
        action_id: CANCEL_ACTION,
        text: { type: 'plain_text', text: 'Cancel' },
        value: JSON.stringify({ plan: value.plan }),
      },
    ],
  };
}

interface Check {
  name: string;
  severity: string;
  passed: boolean;
  skipped?: boolean;
  message: string;
  sample: string[];
}
const SEVERITY_ORDER = ['critical', 'error', 'warning', 'info'];

/** Failed checks, worst first, each with its severity and up to five ids. */
function failedChecks(report: Report): Block[] {
  const checks = ((report as { checks?: Check[] }).checks ?? []).filter((c) => !c.passed && !c.skipped);
  if (checks.length === 0) return [];
  checks.sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  const shown = checks.slice(0, 10);
  const lines = shown.map((c) => {
    const ids = c.sample.slice(0, 5).map((id) => `\`${escape(id)}\``);
    const more = c.sample.length > 5 ? ` and ${c.sample.length - 5} more` : '';
    return `• *${escape(c.name)}* (${c.severity}): ${escape(c.message)}${ids.length ? `\n   ids: ${ids.join(', ')}${more}` : ''}`;
  });
  if (checks.length > shown.length) lines.push(`… and ${checks.length - shown.length} more failed checks`);
  return [section(`*Failed checks*\n${lines.join('\n')}`)];
}

export interface ReportMessageOptions {
  /** Lines above the report (why it was posted: a stale plan replaced, say). */
  preface?: string[];
  /** Puts Apply and Cancel under a plan. */
  withButtons?: boolean;
}

/** A run's outcome: status, key figures, failed checks, the error, a link to the report; buttons under a plan. */
export function reportMessage(report: Report, origin: string, options: ReportMessageOptions = {}): SlackMessage {
  const title = `${runTitle(report.kind, report.request)}: ${report.status}`;
  const message = String(report.summary.message ?? '');
  const blocks: Block[] = [header(title)];
  if (options.preface?.length) blocks.push(section(options.preface.join('\n')));
  if (message) blocks.push(section(escape(message)));
  const keyFigures = figures(report.summary).slice(0, 10);
  if (keyFigures.length > 0)
    blocks.push({ type: 'section', fields: keyFigures.map(([k, v]) => mrkdwn(`*${escape(k)}*\n${String(v)}`)) });
  const planId = (report as { planId?: unknown }).planId;
  if (typeof planId === 'string' && planId) blocks.push(section(`planId \`${planId}\``));
  blocks.push(...failedChecks(report));
  if (report.error)
    blocks.push(section(`*${escape(report.error.title)}* (${report.error.status}): ${escape(report.error.detail)}`));
  const link = `<${reportUrl(origin, report.id)}|report ${report.id}>`;
  const took = report.durationMs === null ? 'running' : `${(report.durationMs / 1000).toFixed(1)} s`;
  blocks.push(context(`${link} · ${escape(report.actor)} · ${took}`));
  const body = options.withButtons ? applyBodyOf(report) : null;
  if (body) {
    blocks.push({ type: 'divider' });
    blocks.push(applyButtons({ kind: report.kind as ApplyValue['kind'], plan: report.id, body }));
  }
  return { response_type: 'in_channel', text: `${title}. ${message}`.trim(), blocks };
}

/** A run that did not start (lock busy, too many runs, a stale plan): what stopped it. */
export function refusedMessage(title: string, kind: string, detail: string): SlackMessage {
  return {
    response_type: 'in_channel',
    text: `${title}: not started (${kind}). ${detail}`,
    blocks: [header(`${title}: not started`), section(`*${escape(kind)}*: ${escape(detail)}`)],
  };
}

/** A run that failed for a reason the service cannot explain: its id to quote. */
export function failedToRunMessage(title: string, detail: string): SlackMessage {
  return {
    response_type: 'in_channel',
    text: `${title} failed: ${detail}`,
    blocks: [header(`${title}: failed`), section(escape(detail))],
  };
}

/** The latest reports, a line each. */
export function runsMessage(items: ReportSummary[], origin: string): SlackMessage {
  if (items.length === 0) return ephemeral('No reports yet.');
  const lines = items.map(
    (r) =>
      `• <${reportUrl(origin, r.id)}|${r.id}> ${TITLES[r.kind]} *${r.status}* · ${escape(r.actor)} · ${r.createdAt}`,
  );
  return ephemeral(`The latest ${items.length} reports`, [header('Latest reports'), section(lines.join('\n'))]);
}

/** /health's deep check, in a few lines. */
export function healthMessage(health: HealthReport): SlackMessage {
  const yes = (b: boolean) => (b ? 'present' : 'absent');
  const db = health.database;
  const fields = [
    `*database*\n${db.reachable ? `reachable (${db.driver} ${db.serverVersion ?? ''}, ${db.latencyMs ?? '?'} ms)` : 'unreachable'}`,
    `*report store*\n${health.storage.ok ? 'ok' : 'not answering'}`,
    `*v1 schema*\n${yes(health.schemas.v1)}`,
    `*v2 schema*\n${yes(health.schemas.v2)}`,
    `*service schema*\n${health.schemas.service.current ? 'current' : `pending: ${health.schemas.service.pending.join(', ')}`}`,
  ];
  const title = `Health: ${health.status}`;
  return ephemeral(title, [header(title), { type: 'section', fields: fields.map(mrkdwn) }]);
}
