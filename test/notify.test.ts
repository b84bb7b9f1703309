import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NotifyOptions } from '../src/notify/send.js';
import type { ReportId } from '../src/reports/ids.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { describeEachDatabase, type TestDatabase } from './support/databases.js';
import { startReceiver, type Received, type Receiver } from './support/receiver.js';
import { seedV1 } from './support/seed.js';

/**
 * `notify` and NOTIFY_URL: a run's signed summary POSTed to a real receiver on 127.0.0.1, checked
 * with the standardwebhooks package's own verifier; retries recorded; refused targets are 400s.
 */

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = secret();
const ASYNC = { Prefer: 'respond-async' };

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());

/** A fresh path of the receiver, and what it got. */
function hook() {
  const path = `/notify/${Math.random().toString(36).slice(2)}`;
  return {
    url: receiver.url(path),
    got: () => receiver.received.filter((r) => r.path === path),
    wait: (timeoutMs?: number) => receiver.waitFor((r) => r.path === path, timeoutMs),
  };
}

const verify = (r: Received, key = SECRET) =>
  new Webhook(key).verify(r.raw, {
    'webhook-id': r.headers['webhook-id']!,
    'webhook-timestamp': r.headers['webhook-timestamp']!,
    'webhook-signature': r.headers['webhook-signature']!,
  });

describeEachDatabase('signed notifications', (db) => {
  let t: TestDatabase;
  let app: TestApp;
  const notify: NotifyOptions = { allowPrivate: true, backoffMs: 20, secret: SECRET };

  beforeAll(async () => {
    t = db();
    await seedV1(t.db, { servers: 3, toolsPerServer: 1 });
    app = await makeTestApp(t.db, { deps: { notify } });
  });
  afterAll(() => app?.settle());

  const stored = (id: string) => app.store.get(id as ReportId);

  it('POSTs the summary of a respond-async run, signed so that Webhook.verify takes it, and records it', async () => {
    const target = hook();
    const response = await app.call('POST', '/validate', {
      body: { mode: 'schema', notify: target.url },
      headers: ASYNC,
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const received = await target.wait();
    await app.settle();

    const payload = verify(received) as { type: string; data: Record<string, unknown> };
    const report = (await stored(id))!;
    expect(payload).toEqual({
      type: 'run.ended',
      timestamp: report.finishedAt,
      data: {
        id,
        kind: 'validation',
        status: report.status,
        summary: report.summary,
        exitCode: (report as unknown as { exitCode: number }).exitCode,
        finishedAt: report.finishedAt,
        link: `http://localhost/reports/${id}`,
      },
    });
    expect(received.headers['webhook-id']).toBe(`msg_${id}`);
    expect(() => verify(received, secret())).toThrow(/signature/i);
    expect(() => verify({ ...received, raw: received.raw.replace('validation', 'migration') })).toThrow();

    // The report records the delivery (the host only), and keeps the URL out of its request.
    expect(report.notifications).toEqual([
      {
        channel: 'webhook',
        host: new URL(target.url).host,
        delivered: true,
        attempts: [expect.objectContaining({ status: 200 })],
      },
    ]);
    expect(report.request).not.toHaveProperty('notify');
  });

  it('retries on 503 with backoff, every attempt in the report, each one signed', async () => {
    const target = hook();
    receiver.failNext(2, 503);
    const response = await app.call('POST', '/migrate', { body: { notify: target.url }, headers: ASYNC });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await target.wait();
    await app.settle();
    const attempts = target.got();
    expect(attempts.map((r) => r.status)).toEqual([503, 503, 200]);
    for (const attempt of attempts) expect(verify(attempt)).toMatchObject({ data: { id, kind: 'migration' } });
    expect(new Set(attempts.map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${id}`]));
    const report = (await stored(id))!;
    expect(report.notifications![0]!.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    expect(report.notifications![0]!.delivered).toBe(true);
  });

  it('tells a respond-async run refused before it started, with no report to link', async () => {
    const target = hook();
    const response = await app.call('POST', '/rollback', {
      body: { dryRun: false, planId: '0'.repeat(32), notify: target.url },
      headers: ASYNC,
    });
    expect(response.status).toBe(409);
    const problem = (await response.json()) as { title: string };
    const received = await target.wait();
    expect(verify(received)).toMatchObject({
      type: 'run.refused',
      data: { id: null, kind: 'rollback', status: 'refused', link: null },
    });
    expect(JSON.stringify(received.body)).toContain('stale-plan');
    expect(problem.title).toBe('The plan is stale');
  });

  it('refuses a notify URL the policy refuses with 400 naming notify, running nothing', async () => {
    const strict = await makeTestApp(t.db, { deps: { notify: { allowPrivate: false, secret: SECRET } } });
    const before = (await strict.store.list({ limit: 5 })).items.length;
    for (const [url, why] of [
      [receiver.url('/private'), /https/], // http, and on 127.0.0.1
      ['https://127.0.0.1/hook', /private/],
      ['https://10.1.2.3/hook', /private/],
      ['https://[::1]/hook', /private/],
      ['https://localhost/hook', /private/],
    ] as const) {
      const response = await strict.call('POST', '/validate', { body: { notify: url }, headers: ASYNC });
      expect(response.status, url).toBe(400);
      const problem = (await response.json()) as { errors: { field: string; message: string }[] };
      expect(problem.errors).toEqual([
        expect.objectContaining({ field: 'notify', message: expect.stringMatching(why) }),
      ]);
    }
    expect((await strict.store.list({ limit: 5 })).items.length).toBe(before);
    expect(receiver.received.filter((r) => r.path === '/private')).toEqual([]);

    // Without NOTIFY_SECRET nothing could be signed: refused too, naming the field.
    const unsigned = await makeTestApp(t.db, { deps: { notify: { allowPrivate: true } } });
    const response = await unsigned.call('POST', '/validate', { body: { notify: hook().url } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ field: 'notify', message: /NOTIFY_SECRET/ }] });
    expect((await unsigned.store.list({ limit: 5 })).items).toEqual([]);
  });

  it('posts to NOTIFY_URL when an async request names no notify; a synchronous one is answered only', async () => {
    const target = hook();
    const withDefault = await makeTestApp(t.db, { deps: { notify: { ...notify, defaultUrl: target.url } } });
    const sync = await withDefault.call('POST', '/validate', { body: { mode: 'schema' } });
    expect(sync.status).toBe(200);
    await withDefault.settle();
    expect(target.got()).toEqual([]);

    const accepted = await withDefault.call('POST', '/validate', { body: { mode: 'schema' }, headers: ASYNC });
    const { id } = (await accepted.json()) as { id: string };
    expect(verify(await target.wait())).toMatchObject({ type: 'run.ended', data: { id } });
    await withDefault.settle();
  });
});
