import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { expect, inject } from 'vitest';
import worker, { type WorkerBindings } from '../../src/entry.worker.js';

/** The Worker's bindings as deployed: the local R2 bucket plus the secrets the global setup made. */
export function workerBindings(overrides: Partial<WorkerBindings> = {}): WorkerBindings {
  const provided = inject('sarkWorkers');
  return {
    ...env,
    DATABASE_URL: provided.databaseUrl,
    WS_PROXY: provided.wsProxy,
    API_TOKENS: provided.apiTokens,
    ...overrides,
  };
}

/**
 * One request through the Worker's own fetch handler, as workerd would deliver it; resolves
 * once everything it left to waitUntil (closing its Neon pool) has settled.
 */
export async function fetchWorker(
  path: string,
  init: RequestInit = {},
  bindings: WorkerBindings = workerBindings(),
): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(new URL(path, 'https://sark-migrate.test'), init), bindings, ctx);
  // Read the whole body before the pool closes, so no assertion ever races that close.
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(body, response);
}

export function bearer(token: string): RequestInit {
  return { headers: { Authorization: `Bearer ${token}` } };
}

/** The body of an RFC 9457 answer, after checking its status and media type. */
export async function problemOf(response: Response, status: number): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect({ status: response.status, contentType: response.headers.get('Content-Type') }, text).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json/),
  });
  const problem = JSON.parse(text) as Record<string, unknown>;
  expect(problem).toMatchObject({
    status,
    type: expect.stringMatching(/^urn:sark-migrate:problem:/),
    title: expect.any(String),
    detail: expect.any(String),
  });
  return problem;
}

/** Polls a report (Location) until its run has ended; the Workflow runs on after the request. */
export async function untilEnded(location: string, readToken: string): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const report = (await (await fetchWorker(location, bearer(readToken))).json()) as Record<string, unknown>;
    if (report.status !== 'running') return report;
    if (Date.now() > deadline) throw new Error(`${location} still running: ${JSON.stringify(report.progress)}`);
  }
}

/** Polls a running report until `done` of its steps are done: a run part-way, whatever the machine's speed. */
export async function untilDone(location: string, readToken: string, done: number): Promise<void> {
  for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const report = (await (await fetchWorker(location, bearer(readToken))).json()) as { progress?: { done: number } };
    if ((report.progress?.done ?? 0) >= done) return;
    if (Date.now() > deadline) throw new Error(`${location} did not reach ${done} steps: ${JSON.stringify(report)}`);
  }
}
