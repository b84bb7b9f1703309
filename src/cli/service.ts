import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api.js';
import { CliError, EXIT } from './exit.js';

export type Report = components['schemas']['Report'];
export type Problem = components['schemas']['Problem'];
export type ServiceClient = Client<paths>;

/** What an openapi-fetch call gives back, as far as following it needs. */
export interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The service refused or failed a request: its problem+json (or whatever it sent), and the exit code it means. */
export class ProblemAnswer extends CliError {
  constructor(
    readonly status: number,
    /** The problem document, or the body as text when the answer was not one (a proxy's page). */
    readonly body: Problem | string,
    /** What the command line knows about it that the service does not say. */
    hint?: string,
  ) {
    super(status >= 500 ? EXIT.unavailable : EXIT.refused, `${problemText(status, body)}${hint ? `\n  ${hint}` : ''}`);
    this.name = 'ProblemAnswer';
  }
}

const isProblem = (body: unknown): body is Problem =>
  typeof body === 'object' && body !== null && typeof (body as Problem).title === 'string';

/** A problem, plainly: status and title, the detail, each offending field, the request id to quote. */
export function problemText(status: number, body: unknown): string {
  if (!isProblem(body)) {
    const text = typeof body === 'string' ? body.trim().split('\n')[0]!.slice(0, 200) : '';
    return `${status}${text ? `: ${text}` : ''}`;
  }
  return [
    `${body.status ?? status} ${body.title}: ${body.detail}`,
    ...(body.errors ?? []).map((e) => `  ${e.field} (${e.in}): ${e.message}`),
    ...(body.requestId ? [`  request id: ${body.requestId}`] : []),
  ].join('\n');
}

/** The client every command uses: generated from openapi/openapi.json (src/cli/api.d.ts). */
export function serviceClient(url: string, token: string, fetchImpl?: typeof fetch): ServiceClient {
  return createClient<paths>({
    baseUrl: url,
    headers: { Authorization: `Bearer ${token}` },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** The request could not be made at all: the service is unreachable (exit 4), said without the token. */
export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(EXIT.unavailable, `Cannot reach the service at ${url}: ${why}.`);
}

/** The answer's report, or its problem thrown. */
export function reportOf<T>(answer: Answer<T>): T {
  if (answer.error !== undefined || !answer.response.ok || answer.data === undefined)
    throw new ProblemAnswer(answer.response.status, answer.error as Problem | string);
  return answer.data;
}

export interface Following {
  /** Called with each running report seen while waiting. */
  onProgress(report: Report): void;
  /** Milliseconds between polls: the first, and the longest. */
  pollMs?: { first: number; max: number };
}

/** Consecutive failures of a poll (unreachable, 5xx) a wait rides out before it gives up. */
const POLL_RETRIES = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GET /reports/{id} until the report is no longer `running`. A poll that fails for a moment (the
 * service restarting, a 503) is tried again; a refusal (a token without `read`: 403) ends it.
 */
export async function followReport(
  client: ServiceClient,
  url: string,
  id: string,
  following: Following,
): Promise<Report> {
  const { first, max } = following.pollMs ?? { first: 250, max: 2_000 };
  let delay = first;
  let failures = 0;
  for (;;) {
    let report: Report;
    try {
      report = reportOf(await client.GET('/reports/{id}', { params: { path: { id } } }));
      failures = 0;
    } catch (error) {
      if (error instanceof ProblemAnswer && error.status === 403)
        throw new ProblemAnswer(
          403,
          error.body,
          `The run ${id} goes on, but this token cannot read its report to follow it: give the token the read scope, or pass --sync.`,
        );
      const transient = !(error instanceof CliError) || error.code === EXIT.unavailable;
      if (!transient || ++failures > POLL_RETRIES) throw error instanceof CliError ? error : unreachable(url, error);
      await sleep(delay);
      continue;
    }
    if (report.status !== 'running') return report;
    following.onProgress(report);
    await sleep(delay);
    delay = Math.min(max, Math.round(delay * 1.5));
  }
}

/** The exit code a report stands for: its own `exitCode` (validation), else by how the run ended. */
export function exitCodeOf(report: Report): number {
  if (report.error) return report.error.status >= 500 ? EXIT.unavailable : EXIT.failed;
  const own = (report as { exitCode?: unknown }).exitCode;
  if (own === 0 || own === 1 || own === 2) return own;
  return ['succeeded', 'passed', 'running'].includes(report.status) ? EXIT.ok : EXIT.failed;
}
