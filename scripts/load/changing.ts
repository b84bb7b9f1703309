/**
 * Changing runs at once: `requests` POST /migrate {"dryRun": false} sent together, spread over
 * one or more service processes on one database. Exactly one may run (200, its report
 * `succeeded`); every other is answered 409 operation-in-progress naming that run as the holder;
 * every request is answered within the timeout (no deadlock, no request left hanging).
 */
import { quantile } from '../../src/measure/stats.js';

export interface ChangingRunsOptions {
  /** Request i goes to urls[i % urls.length]. */
  urls: string[];
  /** Request i uses tokens[i % tokens.length] (tokens with `apply`). */
  tokens: string[];
  requests: number;
  timeoutMs: number;
}

export interface Answer {
  process: number;
  status: number | 'no answer';
  ms: number;
  /** The problem's type, or the report's status. */
  what: string;
  reportId?: string;
  holder?: string;
}

export interface ChangingRunsResult {
  processes: number;
  requests: number;
  /** The run that ran: its report id, its duration as its report gives it. */
  winner: { reportId: string; durationMs: number } | null;
  refused: number;
  /** The refusals' latency, ms. */
  refusedP50Ms: number | null;
  refusedP99Ms: number | null;
  /** From the first request sent to the last answer, ms. */
  wallMs: number;
  violations: string[];
}

type Json = Record<string, unknown>;
const IN_PROGRESS = 'urn:sark-migrate:problem:operation-in-progress';

async function send(url: string, token: string, process: number, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/migrate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: false }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as Json;
    const ms = performance.now() - started;
    if (response.status === 200)
      return { process, status: 200, ms, what: String(body.status), reportId: String(body.id) };
    return { process, status: response.status, ms, what: String(body.type), holder: body.holder as string | undefined };
  } catch (error) {
    return { process, status: 'no answer', ms: performance.now() - started, what: String(error) };
  }
}

export async function concurrentChangingRuns(options: ChangingRunsOptions): Promise<ChangingRunsResult> {
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: options.requests }, (_, i) =>
      send(
        options.urls[i % options.urls.length]!,
        options.tokens[i % options.tokens.length]!,
        i % options.urls.length,
        options.timeoutMs,
      ),
    ),
  );
  const wallMs = performance.now() - started;
  const violations: string[] = [];
  const ran = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 409 && a.what === IN_PROGRESS);
  const others = answers.filter((a) => !ran.includes(a) && !refused.includes(a));

  if (ran.length !== 1) violations.push(`${ran.length} runs ran, not exactly one: ${JSON.stringify(ran)}`);
  for (const a of ran.filter((r) => r.what !== 'succeeded')) violations.push(`the run ${a.reportId} ended ${a.what}`);
  for (const a of others)
    violations.push(
      a.status === 'no answer'
        ? `a request was not answered within ${options.timeoutMs} ms: ${a.what}`
        : `a request was answered ${a.status} ${a.what}, neither the run nor 409 operation-in-progress`,
    );
  const winner = ran.length === 1 ? ran[0]!.reportId! : undefined;
  const wrongHolder = refused.filter((a) => winner && a.holder !== winner);
  if (wrongHolder.length > 0)
    violations.push(
      `${wrongHolder.length} refusals named another holder than the run that ran (${winner}): ${[...new Set(wrongHolder.map((a) => a.holder))].join(', ')}`,
    );

  let durationMs = 0;
  if (winner) {
    // The report as the process that ran it stored it.
    const process = ran[0]!.process;
    const report = (await (
      await fetch(`${options.urls[process]}/reports/${winner}`, {
        headers: { authorization: `Bearer ${options.tokens[0]}` },
      })
    ).json()) as Json;
    durationMs = Number(report.durationMs);
  }
  const refusedMs = refused.map((a) => a.ms).sort((a, b) => a - b);
  const at = (q: number) => (refusedMs.length ? Math.round(quantile(refusedMs, q) * 10) / 10 : null);
  return {
    processes: options.urls.length,
    requests: options.requests,
    winner: winner ? { reportId: winner, durationMs } : null,
    refused: refused.length,
    refusedP50Ms: at(0.5),
    refusedP99Ms: at(0.99),
    wallMs: Math.round(wallMs),
    violations,
  };
}
