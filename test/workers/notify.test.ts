import { env } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { describe, expect, inject, it } from 'vitest';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import type { ReportId } from '../../src/reports/ids.js';
import { createReportStore } from '../../src/reports/store.js';
import { fetchWorker, problemOf } from './harness.js';

const { receiverUrl, notifySecret, runToken } = inject('sarkWorkers');

interface Got {
  raw: string;
  headers: Record<string, string>;
  status: number;
}

/** The POSTs the receiver got on `path` once one of them was taken (2xx). */
async function postsTo(path: string): Promise<Got[]> {
  for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const got = (await (await fetch(`${receiverUrl}${path}`)).json()) as Got[];
    if (got.some((r) => r.status === 200)) return got;
    if (Date.now() > deadline) throw new Error(`nothing taken on ${path}: ${JSON.stringify(got)}`);
  }
}

const headersOf = (got: Got) => ({
  'webhook-id': got.headers['webhook-id']!,
  'webhook-timestamp': got.headers['webhook-timestamp']!,
  'webhook-signature': got.headers['webhook-signature']!,
});

describe('notify on the Worker', () => {
  it("posts a respond-async run's signed summary from the Workflow, and records the delivery in the report", async () => {
    const path = `/workers-notify-${Date.now()}`;
    const response = await fetchWorker('/validate', {
      method: 'POST',
      headers: { Authorization: `Bearer ${runToken}`, 'Content-Type': 'application/json', Prefer: 'respond-async' },
      body: JSON.stringify({ mode: 'schema', notify: `${receiverUrl}${path}` }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const [got] = (await postsTo(path)).filter((r) => r.status === 200);
    const payload = new Webhook(notifySecret).verify(got!.raw, headersOf(got!));
    expect(payload).toMatchObject({
      type: 'run.ended',
      data: { id, kind: 'validation', status: 'passed', exitCode: 0, link: `https://sark-migrate.test/reports/${id}` },
    });
    expect(() =>
      new Webhook(`whsec_${btoa('a different secret of 32 bytes!!')}`).verify(got!.raw, headersOf(got!)),
    ).toThrow();

    const store = createReportStore(r2ObjectStore(env.REPORTS));
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const report = await store.get(id as ReportId);
      if (report?.notifications) {
        expect(report.notifications).toEqual([expect.objectContaining({ channel: 'webhook', delivered: true })]);
        expect(report.request).not.toHaveProperty('notify');
        break;
      }
      if (Date.now() > deadline) throw new Error('the delivery was not recorded');
    }
  });

  it('refuses a notify URL that is not http(s) with 400 naming notify', async () => {
    const problem = await problemOf(
      await fetchWorker('/validate', {
        method: 'POST',
        headers: { Authorization: `Bearer ${runToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ notify: 'ftp://127.0.0.1/hook' }),
      }),
      400,
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'notify' })]);
  });
});
