import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../../test/support/app.js';
import { buttonsOf, expectBlockKit, textOf } from '../../../test/support/block-kit.js';
import { databaseTargets, type DatabaseTarget, type TestDatabase } from '../../../test/support/databases.js';
import { startReceiver, type Received, type Receiver } from '../../../test/support/receiver.js';
import { seedV1 } from '../../../test/support/seed.js';
import { Webhook } from 'standardwebhooks';
import type { SlackPrincipal } from '../../http/scopes.js';
import type { NotifyOptions } from '../../notify/send.js';
import type { ReportId } from '../../reports/ids.js';

const SECRET = 'a-test-signing-secret';
const TEAM = 'T0SARK';
const principals: SlackPrincipal[] = [
  { team: TEAM, user: 'URUNNER', scopes: ['read', 'run'] },
  { team: TEAM, user: 'UAPPLIER', scopes: ['read', 'apply'] },
  { team: 'T0READERS', scopes: ['read'] },
];

/** Signed as Slack signs (node:crypto, not the code under test). */
function signed(body: string, { secret = SECRET, at = Math.floor(Date.now() / 1000) } = {}) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex')}`;
  return {
    'Content-Type': 'application/x-www-form-urlencoded',
    'X-Slack-Request-Timestamp': String(at),
    'X-Slack-Signature': signature,
  };
}

interface Door {
  t: TestDatabase;
  app: TestApp;
  receiver: Receiver;
  /** `/sark <text>` as `user`, its result to the receiver. */
  slash(text: string, user?: string, team?: string): Promise<Response>;
  /** A click on a button of a message the receiver got. */
  click(message: Received, actionId: string, user: string): Promise<Response>;
  count(sql: string): Promise<number>;
}

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());

/** A seeded v1 database (v2 tables empty), the app with the Slack door on, and the receiver as response_url. */
async function withDoor(
  target: DatabaseTarget,
  work: (door: Door) => Promise<void>,
  notify: Partial<NotifyOptions> = {},
) {
  const t = await target.open();
  try {
    await seedV1(t.db, { servers: 6, toolsPerServer: 2 });
    const app = await makeTestApp(t.db, {
      slack: { signingSecret: SECRET, principals },
      deps: { notify: { allowPrivate: true, backoffMs: 20, ...notify } },
    });
    // Each test reads its own path on the shared receiver.
    const path = `/hook/${Math.random().toString(36).slice(2)}`;
    const url = receiver.url(path);
    const door: Door = {
      t,
      app,
      receiver: {
        ...receiver,
        get received() {
          return receiver.received.filter((r) => r.path === path);
        },
        waitFor: (match, timeoutMs) => receiver.waitFor((r) => r.path === path && match(r), timeoutMs),
      },
      slash(text, user = 'URUNNER', team = TEAM) {
        const body = new URLSearchParams({
          token: 'legacy-not-used',
          team_id: team,
          user_id: user,
          command: '/sark',
          text,
          response_url: url,
          trigger_id: '1.2.3',
        }).toString();
        return Promise.resolve(app.app.request('/chatops/slack', { method: 'POST', body, headers: signed(body) }));
      },
      click(message, actionId, user) {
        const button = buttonsOf(message.body)[actionId]!;
        const payload = {
          type: 'block_actions',
          user: { id: user, team_id: TEAM },
          team: { id: TEAM },
          actions: [{ action_id: actionId, value: button.value, type: 'button' }],
          response_url: url,
          message: { blocks: message.body.blocks },
        };
        const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
        return Promise.resolve(
          app.app.request('/chatops/slack/interactions', { method: 'POST', body, headers: signed(body) }),
        );
      },
      async count(sql) {
        return Number((await t.db.query<{ n: number }>(sql)).rows[0]!.n);
      },
    };
    await work(door);
    await app.settle();
  } finally {
    await t.dispose();
  }
}

/** Waits until `value` is truthy (a row has appeared, say). */
async function until(value: () => Promise<unknown>, timeoutMs = 10_000) {
  for (const deadline = Date.now() + timeoutMs; !(await value()); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() > deadline) throw new Error('gave up waiting');
}

const ack = async (response: Response) => {
  expect(response.status).toBe(200);
  return (await response.json()) as { response_type: string; text: string };
};
const headed = (title: string) => (r: Received) =>
  ((r.body.blocks ?? []) as { type: string; text?: { text: string } }[]).some(
    (b) => b.type === 'header' && b.text!.text.startsWith(title),
  );

/** No run was recorded and no report stored: the service's schema may not even exist yet. */
async function nothingRan(door: Door) {
  expect((await door.app.store.list({ limit: 10 })).items).toEqual([]);
  const [{ exists }] = (
    await door.t.db.query<{ exists: boolean }>(`SELECT to_regclass('sark_migrate.runs') IS NOT NULL AS exists`)
  ).rows as [{ exists: boolean }];
  if (exists) expect(await door.count('SELECT count(*)::int AS n FROM sark_migrate.runs')).toBe(0);
}

/** Holds a lock that every run on the database waits for; resolves the release. */
async function holdLock(t: TestDatabase): Promise<() => Promise<void>> {
  if (t.connect) {
    // Another session holds v1's table: a validation's reads of it wait.
    const session = await t.connect();
    await session.query('BEGIN');
    await session.query('LOCK TABLE mcp_servers IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await session.query('COMMIT');
      await session.close();
    };
  }
  // PGlite is one backend: an open transaction makes every other statement wait.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let began!: () => void;
  const open = new Promise<void>((resolve) => (began = resolve));
  const held = t.db.transaction(async (tx) => {
    await tx.query('SELECT 1');
    began();
    await released;
  });
  await open;
  return async () => {
    release();
    await held;
  };
}

for (const target of databaseTargets()) {
  describe(`the Slack door [${target.driver}]`, () => {
    it('refuses forged, stale and unsigned requests with 401, running and storing nothing', () =>
      withDoor(target, async (door) => {
        const body = new URLSearchParams({
          team_id: TEAM,
          user_id: 'UAPPLIER',
          text: 'migrate',
          response_url: door.receiver.url(),
        }).toString();
        const now = Math.floor(Date.now() / 1000);
        const attempts: [string, Record<string, string>, string][] = [
          ['no headers', { 'Content-Type': 'application/x-www-form-urlencoded' }, body],
          ['another secret', signed(body, { secret: 'not-the-secret' }), body],
          ['six minutes old', signed(body, { at: now - 360 }), body],
          ['six minutes ahead', signed(body, { at: now + 360 }), body],
          ['a changed body', signed(body), body.replace('migrate', 'rollback')],
          ['no signature', { ...signed(body), 'X-Slack-Signature': '' }, body],
        ];
        for (const [what, headers, sent] of attempts) {
          for (const path of ['/chatops/slack', '/chatops/slack/interactions']) {
            const response = await door.app.app.request(path, { method: 'POST', body: sent, headers });
            expect(response.status, `${what} ${path}`).toBe(401);
            expect(response.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
            expect(await response.json()).toMatchObject({ type: 'urn:sark-migrate:problem:unauthorized' });
          }
        }
        await door.app.settle();
        await nothingRan(door);
        expect(door.receiver.received).toEqual([]);
        // Signed correctly, the same body is taken.
        expect((await ack(await door.slash('help'))).text).toContain('/sark <command>');
      }));

    it('acknowledges at once while the operation waits for a lock, then posts the result as Block Kit', () =>
      withDoor(target, async (door) => {
        const release = await holdLock(door.t);
        let released = false;
        try {
          const started = Date.now();
          const first = await ack(await door.slash('validate data'));
          const took = Date.now() - started;
          expect(first).toMatchObject({
            response_type: 'ephemeral',
            text: expect.stringContaining('Validation (data)'),
          });
          expect(took).toBeLessThan(1_000);
          // One read at a time per actor: a second one is refused, and Slack is told. (On PostgreSQL
          // the first is recorded while it waits; PGlite takes both in turn once the lock goes.)
          if (door.t.connect)
            await until(() => door.count(`SELECT count(*)::int AS n FROM sark_migrate.runs`).catch(() => 0));
          await ack(await door.slash('validate quick'));
          // Blocked: nothing has finished while the lock is held.
          await new Promise((resolve) => setTimeout(resolve, 300));
          expect(door.receiver.received.filter(headed('Validation (data)'))).toEqual([]);
          await release();
          released = true;
        } finally {
          if (!released) await release();
        }
        const result = await door.receiver.waitFor(headed('Validation (data)'));
        expectBlockKit(result.body);
        expect(result.body.response_type).toBe('in_channel');
        const refused = await door.receiver.waitFor(headed('Validation (quick): not started'));
        expectBlockKit(refused.body);
        expect(textOf(refused.body)).toContain('too-many-runs');
        // The report: the Slack user as actor, linked from the message, the delivery recorded.
        await door.app.settle();
        const [item] = (await door.app.store.list({ kind: 'validation', limit: 10 })).items;
        expect(item).toMatchObject({ actor: `slack:${TEAM}/URUNNER` });
        expect(textOf(result.body)).toContain(`http://localhost/reports/${item!.id}`);
        const report = (await door.app.store.get(item!.id as ReportId)) as {
          notifications?: { delivered: boolean; host: string }[];
        };
        expect(report.notifications).toEqual([
          expect.objectContaining({ channel: 'slack', delivered: true, host: new URL(door.receiver.url()).host }),
        ]);
      }));

    it('shows failed checks with severity and at most five ids, and retries a response_url that answers 503', () =>
      withDoor(target, async (door) => {
        // v2 is empty: every v1 row is missing from it, an error with many ids.
        door.receiver.failNext(2, 503);
        await ack(await door.slash('validate data'));
        const result = await door.receiver.waitFor(headed('Validation (data)'));
        expectBlockKit(result.body);
        const text = textOf(result.body);
        expect(text).toContain('data.servers_fidelity* (error)');
        const ids = /data\.servers_fidelity[^•]*?ids: ([^\\]*)/.exec(text)![1]!;
        expect(ids.match(/`/g)!.length).toBe(10); // five ids, each in backquotes
        expect(ids).toContain('and 1 more');
        await door.app.settle();
        const [item] = (await door.app.store.list({ limit: 1 })).items;
        const report = (await door.app.store.get(item!.id as ReportId)) as {
          notifications: { attempts: { status: number }[] }[];
        };
        expect(report.notifications[0]!.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
      }));

    it("runs preflight and posts its outcome as Block Kit, the report's failed checks with it", () =>
      withDoor(target, async (door) => {
        expect((await ack(await door.slash('preflight now'))).text).toContain('`preflight` takes no arguments');
        const first = await ack(await door.slash('preflight'));
        expect(first).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('Preflight') });
        const result = await door.receiver.waitFor(headed('Preflight'));
        expectBlockKit(result.body);
        await door.app.settle();
        const [item] = (await door.app.store.list({ kind: 'preflight', limit: 1 })).items;
        expect(item).toMatchObject({ actor: `slack:${TEAM}/URUNNER` });
        const report = (await door.app.store.get(item!.id as ReportId)) as unknown as {
          status: string;
          checks: { name: string; passed: boolean; skipped?: boolean; severity: string }[];
        };
        const text = textOf(result.body);
        expect(text).toContain(report.status);
        expect(text).toContain(`http://localhost/reports/${item!.id}`);
        const failed = report.checks.filter((c) => !c.passed && !c.skipped);
        expect(text.includes('*Failed checks*')).toBe(failed.length > 0);
        for (const check of failed) expect(text).toContain(`${check.name}* (${check.severity})`);
      }));

    it('answers strangers, unknown commands and bad arguments ephemerally, running nothing', () =>
      withDoor(target, async (door) => {
        const stranger = await ack(await door.slash('validate', 'USTRANGER'));
        expect(stranger).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('not allowed') });
        const otherTeam = await ack(await door.slash('help', 'URUNNER', 'T0ELSEWHERE'));
        expect(otherTeam.text).toContain('not allowed');
        const unknown = await ack(await door.slash('drop tables'));
        expect(unknown).toMatchObject({
          response_type: 'ephemeral',
          text: expect.stringContaining('`drop` is not a command'),
        });
        expect(unknown.text).toContain('/sark <command>');
        expect((await ack(await door.slash('validate deep'))).text).toMatch(/`validate`: mode: /);
        expect((await ack(await door.slash('benchmark no_such_pattern'))).text).toMatch(/`benchmark`: patterns\.0/);
        expect((await ack(await door.slash('optimize apply'))).text).toContain('Apply button');
        expect((await ack(await door.slash('report 42'))).text).toContain('report id');
        // A whole team with `read` may read, not run.
        expect((await ack(await door.slash('validate', 'UANYONE', 'T0READERS'))).text).toContain(
          'lack the `run` scope',
        );
        await door.app.settle();
        await nothingRan(door);
        expect(door.receiver.received).toEqual([]);
      }));

    it('migrates only on a click by a user with apply: the plan, a refused click, an applied one', () =>
      withDoor(target, async (door) => {
        await ack(await door.slash('migrate'));
        const plan = await door.receiver.waitFor(headed('Migration (dry run): succeeded'));
        expectBlockKit(plan.body);
        const buttons = buttonsOf(plan.body);
        expect(Object.keys(buttons).sort()).toEqual(['sark_apply', 'sark_cancel']);
        expect(JSON.parse(buttons.sark_apply!.value as string)).toMatchObject({
          kind: 'migration',
          body: { dryRun: false, planId: expect.stringMatching(/^[0-9a-f]{32}$/) },
        });

        // `run` is not enough to apply: told so, nothing copied.
        expect((await door.click(plan, 'sark_apply', 'URUNNER')).status).toBe(200);
        const refused = await door.receiver.waitFor((r) => textOf(r.body).includes('lack the `apply` scope'));
        expect(refused.body).toMatchObject({ response_type: 'ephemeral' });
        await door.app.settle();
        expect(await door.count('SELECT count(*)::int AS n FROM resources')).toBe(0);

        // A stranger's click is refused too.
        await door.click(plan, 'sark_apply', 'USTRANGER');
        await door.receiver.waitFor((r) => textOf(r.body).includes('<@USTRANGER>: this Slack user is not allowed'));

        // The applier's click: the message says who clicked (its buttons gone), then the result.
        const started = Date.now();
        expect((await door.click(plan, 'sark_apply', 'UAPPLIER')).status).toBe(200);
        expect(Date.now() - started).toBeLessThan(1_000);
        const clicked = await door.receiver.waitFor((r) => r.body.replace_original === true);
        expectBlockKit(clicked.body);
        expect(buttonsOf(clicked.body)).toEqual({});
        expect(textOf(clicked.body)).toContain('Apply clicked by <@UAPPLIER>');
        const done = await door.receiver.waitFor(headed('Migration: succeeded'));
        expectBlockKit(done.body);
        expect(buttonsOf(done.body)).toEqual({});
        await door.app.settle();
        expect(await door.count('SELECT count(*)::int AS n FROM resources')).toBe(6);
        expect(await door.count('SELECT count(*)::int AS n FROM capabilities')).toBe(12);
        const [item] = (await door.app.store.list({ kind: 'migration', limit: 1 })).items;
        expect(item).toMatchObject({ actor: `slack:${TEAM}/UAPPLIER`, status: 'succeeded' });

        // Cancel under a plan: nothing applied, the message says so.
        await ack(await door.slash('migrate'));
        // A new plan (not the clicked message, which keeps the first plan's header).
        const second = await door.receiver.waitFor(
          (r) => headed('Migration (dry run)')(r) && r.body.replace_original === false && r !== plan,
        );
        await door.click(second, 'sark_cancel', 'URUNNER');
        await door.receiver.waitFor((r) => textOf(r.body).includes('Cancelled by <@URUNNER>'));
      }));

    it('answers a stale migrate plan with a new plan and what changed, copying nothing until that one is applied', () =>
      withDoor(target, async (door) => {
        await ack(await door.slash('migrate'));
        const plan = await door.receiver.waitFor(headed('Migration (dry run): succeeded'));
        const { planId } = JSON.parse(buttonsOf(plan.body).sark_apply!.value as string).body as { planId: string };
        expect(planId).toMatch(/^[0-9a-f]{32}$/);
        // Changed after the plan: a v1 server renamed.
        await door.t.db.query(
          `UPDATE mcp_servers SET name = name || '-changed' WHERE id = (SELECT id FROM mcp_servers ORDER BY id LIMIT 1)`,
        );

        await door.click(plan, 'sark_apply', 'UAPPLIER');
        const replanned = await door.receiver.waitFor((r) => textOf(r.body).includes('is stale'));
        expectBlockKit(replanned.body);
        expect(headed('Migration (dry run): succeeded')(replanned)).toBe(true);
        expect(textOf(replanned.body)).toMatch(new RegExp(`planId: ${planId} → [0-9a-f]{32}`));
        await door.app.settle();
        expect(await door.count('SELECT count(*)::int AS n FROM resources')).toBe(0); // nothing copied

        await door.click(replanned, 'sark_apply', 'UAPPLIER');
        await door.receiver.waitFor(headed('Migration: succeeded'));
        await door.app.settle();
        expect(await door.count('SELECT count(*)::int AS n FROM resources')).toBe(6);
      }));

    it("also POSTs a run's signed summary to NOTIFY_URL, both deliveries in the report", async () => {
      const secret = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
      const defaultPath = `/notify-url/${Math.random().toString(36).slice(2)}`;
      await withDoor(
        target,
        async (door) => {
          await ack(await door.slash('validate schema'));
          await door.receiver.waitFor(headed('Validation (schema)'));
          const got = await receiver.waitFor((r) => r.path === defaultPath);
          const headers = {
            'webhook-id': got.headers['webhook-id']!,
            'webhook-timestamp': got.headers['webhook-timestamp']!,
            'webhook-signature': got.headers['webhook-signature']!,
          };
          const payload = new Webhook(secret).verify(got.raw, headers) as { data: { id: string } };
          await door.app.settle();
          const report = await door.app.store.get(payload.data.id as ReportId);
          expect(report).toMatchObject({ kind: 'validation', actor: `slack:${TEAM}/URUNNER` });
          expect(report!.notifications!.map((n) => [n.channel, n.delivered])).toEqual([
            ['slack', true],
            ['webhook', true],
          ]);
        },
        { secret, defaultUrl: receiver.url(defaultPath) },
      );
    });

    it('answers a stale rollback plan with a new plan and what changed, then applies that one', () =>
      withDoor(target, async (door) => {
        await ack(await door.slash('migrate'));
        await door.click(await door.receiver.waitFor(headed('Migration (dry run)')), 'sark_apply', 'UAPPLIER');
        await door.receiver.waitFor(headed('Migration: succeeded'));

        await ack(await door.slash('rollback'));
        const plan = await door.receiver.waitFor(headed('Rollback (dry run): succeeded'));
        const { planId } = JSON.parse(buttonsOf(plan.body).sark_apply!.value as string).body as { planId: string };
        expect(planId).toMatch(/^[0-9a-f]{32}$/);
        // Changed after the plan: a migrated resource edited in v2.
        await door.t.db.query(`UPDATE resources SET name = 'renamed in v2' WHERE id = (SELECT min(id) FROM resources)`);

        await door.click(plan, 'sark_apply', 'UAPPLIER');
        const replanned = await door.receiver.waitFor((r) => textOf(r.body).includes('is stale'));
        expectBlockKit(replanned.body);
        const text = textOf(replanned.body);
        expect(text).toContain('What changed since that plan');
        expect(text).toMatch(/divergent: 0 → 1/);
        expect(text).toMatch(new RegExp(`planId: ${planId} → [0-9a-f]{32}`));
        await door.app.settle();
        expect(await door.count('SELECT count(*)::int AS n FROM resources')).toBe(6); // nothing rolled back

        await door.click(replanned, 'sark_apply', 'UAPPLIER');
        const done = await door.receiver.waitFor(headed('Rollback: succeeded'));
        expectBlockKit(done.body);
        await door.app.settle();
        expect(await door.count(`SELECT count(*)::int AS n FROM resources WHERE protocol = 'mcp'`)).toBe(0);
      }));

    it('answers status, runs, report and cancel on the response_url', () =>
      withDoor(target, async (door) => {
        await ack(await door.slash('status', 'UANYONE', 'T0READERS'));
        const health = await door.receiver.waitFor(headed('Health: ok'));
        expectBlockKit(health.body);
        await ack(await door.slash('validate quick'));
        await door.receiver.waitFor(headed('Validation (quick)'));
        await door.app.settle();
        const [item] = (await door.app.store.list({ limit: 1 })).items;
        await ack(await door.slash('runs', 'UANYONE', 'T0READERS'));
        const runs = await door.receiver.waitFor(headed('Latest reports'));
        expectBlockKit(runs.body);
        expect(textOf(runs.body)).toContain(item!.id);
        await ack(await door.slash(`report ${item!.id}`, 'UANYONE', 'T0READERS'));
        const report = await door.receiver.waitFor(
          (r) => r.body.response_type === 'ephemeral' && headed('Validation (quick)')(r),
        );
        expectBlockKit(report.body);
        await ack(await door.slash(`cancel ${item!.id}`));
        await door.receiver.waitFor((r) => textOf(r.body).includes('has ended'));
      }));
  });
}

describe('the Slack door, not configured', () => {
  it('answers 503 not-configured without a signing secret', async () => {
    const t = await databaseTargets()[0]!.open();
    try {
      const { app } = await makeTestApp(t.db);
      const body = 'text=help';
      const response = await app.request('/chatops/slack', { method: 'POST', body, headers: signed(body) });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ type: 'urn:sark-migrate:problem:not-configured' });
    } finally {
      await t.dispose();
    }
  });
});
