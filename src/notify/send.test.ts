import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../../test/support/receiver.js';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isPrivateHost, postJson, resolvedTargetProblem, targetProblem } from './send.js';

describe('where a notification may go', () => {
  const strict = { allowPrivate: false };
  const slack = { host: 'hooks.slack.com' } as const;

  it("takes only https on Slack's own host for a response_url", () => {
    expect(targetProblem('https://hooks.slack.com/commands/T1/2/abc', slack, strict)).toBeUndefined();
    expect(targetProblem('http://hooks.slack.com/commands/T1/2/abc', slack, strict)).toMatch(/https/);
    expect(targetProblem('https://hooks.slack.com.evil.example/x', slack, strict)).toMatch(/hooks.slack.com/);
    expect(targetProblem('https://evil.example/hooks.slack.com', slack, strict)).toMatch(/hooks.slack.com/);
    expect(targetProblem('https://user:pw@hooks.slack.com/x', slack, strict)).toMatch(/credentials/);
    expect(targetProblem('https://hooks.slack.com:8443/x', slack, strict)).toMatch(/port/);
    expect(targetProblem('not a url', slack, strict)).toMatch(/not a URL/);
  });

  it('never takes a private, loopback or link-local address, unless NOTIFY_ALLOW_PRIVATE', () => {
    const any = { host: 'any' } as const;
    for (const url of [
      'https://127.0.0.1/x',
      'https://10.1.2.3/x',
      'https://172.20.0.1/x',
      'https://192.168.1.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/x',
      'https://0.0.0.0/x',
      'https://localhost/x',
      'https://[::1]/x',
      'https://[fe80::1]/x',
      'https://[fd00::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[::ffff:a9fe:a9fe]/x',
    ]) {
      expect(targetProblem(url, any, strict), url).toMatch(/private/);
      expect(targetProblem(url, any, { allowPrivate: true }), url).toBeUndefined();
    }
    expect(targetProblem('https://example.com/hook', any, strict)).toBeUndefined();
    expect(isPrivateHost('8.8.8.8')).toBe(false);
    expect(isPrivateHost('172.32.0.1')).toBe(false);
    expect(targetProblem('ftp://127.0.0.1/x', any, { allowPrivate: true })).toMatch(/http/);
  });
});

describe('a host name is judged by what it resolves to (node:dns, as the Node entry does)', () => {
  const resolve = async (host: string) => (await lookup(host, { all: true })).map((a) => a.address);
  const any = { host: 'any' } as const;

  it('refuses a name that resolves to a private address, or to nothing', async () => {
    // This machine's own name resolves to one of its addresses (loopback or a private network).
    const own = (await resolve(hostname()))[0]!;
    expect(isPrivateHost(own), own).toBe(true);
    expect(targetProblem(`https://${hostname()}/x`, any, { allowPrivate: false })).toBeUndefined();
    expect(await resolvedTargetProblem(`https://${hostname()}/x`, any, { allowPrivate: false, resolve })).toMatch(
      /resolves to a private/,
    );
    expect(
      await resolvedTargetProblem('https://no-such-host.invalid/x', any, { allowPrivate: false, resolve }),
    ).toMatch(/does not resolve/);
    expect(
      await resolvedTargetProblem(`https://${hostname()}/x`, any, { allowPrivate: true, resolve }),
    ).toBeUndefined();
  });

  it('sends nothing to a name that resolves to a private address, saying so in the attempt', async () => {
    const delivery = await postJson(`https://${hostname()}/x`, {}, { allowPrivate: false, resolve });
    expect(delivery).toEqual({
      delivered: false,
      attempts: [expect.objectContaining({ status: null, error: expect.stringMatching(/not sent: .*private/) })],
    });
  });
});

describe('the sender, against a real receiver on 127.0.0.1', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver.close());
  const options = { allowPrivate: true, backoffMs: 20 };

  it('retries on 503 with backoff and records every attempt', async () => {
    receiver.failNext(2, 503);
    const started = Date.now();
    const delivery = await postJson(receiver.url('/retried'), { text: 'hello' }, options);
    expect(delivery.delivered).toBe(true);
    expect(delivery.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40); // 20 ms, then 40 ms
    const got = receiver.received.filter((r) => r.path === '/retried');
    expect(got.map((r) => r.body)).toEqual([{ text: 'hello' }, { text: 'hello' }, { text: 'hello' }]);
  });

  it('gives up after its attempts, and does not retry a 4xx', async () => {
    receiver.failNext(5, 503);
    const failed = await postJson(receiver.url('/down'), { text: 'x' }, options);
    expect(failed).toMatchObject({ delivered: false });
    expect(failed.attempts.map((a) => a.status)).toEqual([503, 503, 503]);
    receiver.failNext(0, 503);
    receiver.failNext(1, 404);
    const gone = await postJson(receiver.url('/gone'), { text: 'x' }, options);
    expect(gone.attempts.map((a) => a.status)).toEqual([404]);
  });

  it('records a refused connection as attempts without a status', async () => {
    const refused = await postJson('http://127.0.0.1:1/x', { text: 'x' }, { ...options, attempts: 2 });
    expect(refused.delivered).toBe(false);
    expect(refused.attempts).toHaveLength(2);
    expect(refused.attempts.every((a) => a.status === null && a.error)).toBe(true);
  });
});
