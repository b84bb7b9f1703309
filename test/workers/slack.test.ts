import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { createNeonDatabase } from '../../src/adapters/db/neon.js';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import type { ReportId } from '../../src/reports/ids.js';
import { createReportStore } from '../../src/reports/store.js';
import { fetchWorker, problemOf } from './harness.js';

const provided = inject('sarkWorkers');
const { slackSigningSecret, receiverUrl } = provided;

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

const command = (text: string, path: string, user = 'URUN') =>
  new URLSearchParams({
    team_id: 'T0WORKERS',
    user_id: user,
    command: '/sark',
    text,
    response_url: `${receiverUrl}${path}`,
  }).toString();

type Message = Record<string, unknown> & {
  blocks?: { type: string; elements?: { action_id: string; value: string }[] }[];
};
const headed = (title: string) => (m: Message) => JSON.stringify(m.blocks ?? []).includes(`"text":"${title}`);
const applyButton = (m: Message) =>
  (m.blocks ?? []).flatMap((b) => (b.type === 'actions' ? b.elements! : [])).find((e) => e.action_id === 'sark_apply');

/** A click on a message's Apply button, as Slack posts it. */
async function clickApply(message: Message, path: string, user: string) {
  const payload = {
    type: 'block_actions',
    user: { id: user, team_id: 'T0WORKERS' },
    team: { id: 'T0WORKERS' },
    actions: [{ action_id: 'sark_apply', value: applyButton(message)!.value, type: 'button' }],
    response_url: `${receiverUrl}${path}`,
    message: { blocks: message.blocks },
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return fetchWorker('/chatops/slack/interactions', { method: 'POST', body, headers: await signed(body) });
}

/** What the receiver got on `path`, once `match` finds it. */
async function posted(path: string, match: (body: Message) => boolean): Promise<Message> {
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

  it('applies a plan on a click in a Workflow, and answers a stale rollback plan with a new one from another', async () => {
    const path = `/workers-apply-${Date.now()}`;
    const migrate = command('migrate', path, 'UAPPLY');
    expect(
      (await fetchWorker('/chatops/slack', { method: 'POST', body: migrate, headers: await signed(migrate) })).status,
    ).toBe(200);
    const plan = await posted(path, (m) => headed('Migration (dry run): succeeded')(m) && m.replace_original === false);
    expect(applyButton(plan)).toBeDefined();
    expect((await clickApply(plan, path, 'UAPPLY')).status).toBe(200);
    await posted(path, headed('Migration: succeeded'));

    const rollbackPath = `${path}-rollback`;
    const rollback = command('rollback', rollbackPath, 'UAPPLY');
    await fetchWorker('/chatops/slack', { method: 'POST', body: rollback, headers: await signed(rollback) });
    const rollbackPlan = await posted(
      rollbackPath,
      (m) => headed('Rollback (dry run): succeeded')(m) && m.replace_original === false,
    );
    const db = createNeonDatabase({ connectionString: provided.databaseUrl, wsProxy: provided.wsProxy });
    try {
      // Changed after the plan; put back afterwards, so the other files find the data as seeded.
      const { rows } = await db.query<{ id: string; name: string }>(
        `SELECT id, name FROM resources WHERE protocol = 'mcp' ORDER BY id LIMIT 1`,
      );
      const [first] = rows;
      await db.query(`UPDATE resources SET name = 'renamed in v2' WHERE id = $1`, [first!.id]);
      try {
        expect((await clickApply(rollbackPlan, rollbackPath, 'UAPPLY')).status).toBe(200);
        const replanned = await posted(rollbackPath, (m) => JSON.stringify(m).includes('is stale'));
        expect(JSON.stringify(replanned)).toMatch(/divergent: 0 → 1/);
        expect(applyButton(replanned)).toBeDefined();
      } finally {
        await db.query(`UPDATE resources SET name = $2 WHERE id = $1`, [first!.id, first!.name]);
      }
      const { rows: left } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM resources WHERE protocol = 'mcp'`,
      );
      expect(left[0]!.n).toBeGreaterThan(0); // the stale plan removed nothing
    } finally {
      await db.close();
    }
  });
});
