import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import type { ReportId } from '../../src/reports/ids.js';
import { createReportStore } from '../../src/reports/store.js';
import { fetchWorker, problemOf } from './harness.js';

const { slackSigningSecret, receiverUrl } = inject('sarkWorkers');

const hex = (buffer: ArrayBuffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** Signed as Slack signs: v0= HMAC-SHA256 of v0:{timestamp}:{body}. */
async function signed(body: string, secret = slackSigningSecret) {
  const at = String(Math.floor(Date.now() / 1000));
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`v0:${at}:${body}`));
  return {
    'Content-Type': 'application/x-www-form-urlencoded',
    'X-Slack-Request-Timestamp': at,
    'X-Slack-Signature': `v0=${hex(mac)}`,
  };
}

const command = (text: string, path: string) =>
  new URLSearchParams({
    team_id: 'T0WORKERS',
    user_id: 'URUN',
    command: '/sark',
    text,
    response_url: `${receiverUrl}${path}`,
  }).toString();

/** What the receiver got on `path`, once `match` finds it. */
async function posted(path: string, match: (body: Record<string, unknown>) => boolean) {
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const got = (await (await fetch(`${receiverUrl}${path}`)).json()) as {
      body: Record<string, unknown>;
      status: number;
    }[];
    const found = got.find((r) => r.status === 200 && match(r.body));
    if (found) return found.body;
    if (Date.now() > deadline) throw new Error(`nothing matching on ${path}: ${JSON.stringify(got)}`);
  }
}

describe('the Slack door on the Worker', () => {
  it('refuses an unsigned or forged slash command with 401, launching nothing', async () => {
    const body = command('validate quick', '/workers-forged');
    await problemOf(
      await fetchWorker('/chatops/slack', {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }),
      401,
    );
    await problemOf(
      await fetchWorker('/chatops/slack', { method: 'POST', body, headers: await signed(body, 'not-the-secret') }),
      401,
    );
    await problemOf(
      await fetchWorker('/chatops/slack/interactions', { method: 'POST', body, headers: await signed(`${body}x`) }),
      401,
    );
    const got = await (await fetch(`${receiverUrl}/workers-forged`)).json();
    expect(got).toEqual([]);
  });

  it('answers help at once', async () => {
    const body = command('help', '/workers-help');
    const response = await fetchWorker('/chatops/slack', { method: 'POST', body, headers: await signed(body) });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('/sark <command>'),
    });
  });

  it('acknowledges validate, and the Workflow posts its result to response_url at the end of its run', async () => {
    const path = `/workers-validate-${Date.now()}`;
    const body = command('validate quick', path);
    const response = await fetchWorker('/chatops/slack', { method: 'POST', body, headers: await signed(body) });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('Validation (quick)'),
    });

    const result = await posted(path, (m) => JSON.stringify(m.blocks).includes('Validation (quick): passed'));
    expect(result).toMatchObject({ response_type: 'in_channel', replace_original: false });
    const link = /https:\/\/sark-migrate\.test\/reports\/([0-9a-f-]{36})/.exec(JSON.stringify(result.blocks))!;
    const store = createReportStore(r2ObjectStore(env.REPORTS));
    // The Workflow records the delivery in the report after posting it.
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const report = (await store.get(link[1] as ReportId)) as Record<string, unknown> | null;
      expect(report).toMatchObject({ actor: 'slack:T0WORKERS/URUN', kind: 'validation' });
      if (report!.notifications) {
        expect(report!.notifications).toEqual([expect.objectContaining({ channel: 'slack', delivered: true })]);
        break;
      }
      if (Date.now() > deadline) throw new Error('the delivery was not recorded');
    }
  });
});
