import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Problem } from '../../http/problems.js';
import type { Report, ReportList } from '../../reports/schemas.js';

/**
 * The API's answer as an MCP tool result: the JSON itself (structuredContent, and as text for
 * clients that read only text) after a one-line summary. A problem is a tool error with its
 * title, status and detail: the model reads why and may act on it, where a protocol error
 * would only say that the call failed.
 */
export async function toolResult(response: Response): Promise<CallToolResult> {
  const text = await response.text();
  const body = parseObject(text);
  if (!body) {
    return {
      isError: true,
      content: [
        { type: 'text', text: `The service answered ${response.status} without a JSON body: ${text.slice(0, 200)}` },
      ],
    };
  }
  const json = { type: 'text' as const, text: JSON.stringify(body) };
  if (response.status >= 400) {
    return {
      isError: true,
      content: [{ type: 'text', text: problemLine(body as Problem) }, json],
      structuredContent: body,
    };
  }
  const line = 'items' in body ? listLine(body as ReportList) : reportLine(body as Report);
  return { content: [{ type: 'text', text: line }, json], structuredContent: body };
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function problemLine(problem: Problem): string {
  const fields = problem.errors?.length ? ` (${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')})` : '';
  return `${problem.title} (${problem.status}): ${problem.detail}${fields}`;
}

/** What an assistant needs to say next: the outcome, and the id or planId to go on with. */
function reportLine(report: Report): string {
  if (report.status === 'running') {
    const progress = report.progress;
    const steps = progress ? ` ${progress.done} of ${progress.total ?? '?'} steps done.` : '';
    return `Running: ${report.kind} report ${report.id}.${steps} Follow it with get_report (id ${report.id}).`;
  }
  const message = typeof report.summary.message === 'string' ? ` ${report.summary.message}` : '';
  const parts = [`${report.kind} ${report.status}:${message} Report ${report.id}.`];
  if (typeof report.exitCode === 'number') parts.push(`Exit code ${report.exitCode}.`);
  const planId = report.dryRun === true && typeof report.planId === 'string' ? report.planId : null;
  if (planId) {
    const operation = report.kind === 'migration' ? 'migrate' : 'rollback';
    parts.push(`To carry it out: apply with operation "${operation}" and planId "${planId}".`);
  }
  const recommendations = Array.isArray(report.recommendations)
    ? (report.recommendations as { name: string; kind?: string }[])
    : [];
  const indexes = recommendations.filter((r) => r.kind !== 'materialized view').map((r) => r.name);
  const views = recommendations.filter((r) => r.kind === 'materialized view').map((r) => r.name);
  if (report.kind === 'optimization' && indexes.length > 0)
    parts.push(`Recommended: ${indexes.join(', ')} (apply with operation "optimize" and these indexes).`);
  if (report.kind === 'optimization' && views.length > 0)
    parts.push(`Materialized views: ${views.join(', ')} (apply with operation "optimize" and these views).`);
  return parts.join(' ');
}

function listLine(list: ReportList): string {
  const lines = list.items.map((r) => `- ${r.id} ${r.kind} ${r.status} (${r.createdAt})`);
  const more = list.nextCursor ? `\nMore: list_reports with cursor "${list.nextCursor}".` : '';
  return `${list.items.length} report${list.items.length === 1 ? '' : 's'}, newest first:\n${lines.join('\n')}${more}`;
}
