import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { slackSignatureProblem } from './slack.js';

const bytes = (text: string) => new TextEncoder().encode(text);

// Slack's own example, from "Verifying requests from Slack" (api.slack.com/authentication/verifying-requests-from-slack).
const EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

/** Signed as Slack signs, by node:crypto rather than the WebCrypto code under test. */
const sign = (secret: string, timestamp: string, body: string) =>
  `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;

describe("Slack's request signature", () => {
  const at = Number(EXAMPLE.timestamp) + 10;

  it("accepts Slack's documented example", async () => {
    expect(
      await slackSignatureProblem(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.signature, bytes(EXAMPLE.body), at),
    ).toBeUndefined();
    // The header is compared in any case Slack might send it.
    expect(
      await slackSignatureProblem(
        EXAMPLE.secret,
        EXAMPLE.timestamp,
        EXAMPLE.signature.toUpperCase().replace('V0', 'v0'),
        bytes(EXAMPLE.body),
        at,
      ),
    ).toBeUndefined();
  });

  it('refuses the example with a byte of its body changed, another secret, or another timestamp', async () => {
    const { secret, timestamp, signature, body } = EXAMPLE;
    expect(
      await slackSignatureProblem(secret, timestamp, signature, bytes(body.replace('text=', 'text=x')), at),
    ).toMatch(/does not match/);
    expect(await slackSignatureProblem(`${secret}x`, timestamp, signature, bytes(body), at)).toMatch(/does not match/);
    expect(await slackSignatureProblem(secret, String(Number(timestamp) + 1), signature, bytes(body), at)).toMatch(
      /does not match/,
    );
  });

  it('accepts a generated signature now, and refuses it stale, early, wrong-secret, malformed or missing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = 'team_id=T1&user_id=U1&text=validate%20quick';
    const ts = String(now);
    const good = sign('s3cret', ts, body);
    expect(await slackSignatureProblem('s3cret', ts, good, bytes(body))).toBeUndefined();
    const old = String(now - 301);
    expect(await slackSignatureProblem('s3cret', old, sign('s3cret', old, body), bytes(body))).toMatch(/5 minutes/);
    const ahead = String(now + 301);
    expect(await slackSignatureProblem('s3cret', ahead, sign('s3cret', ahead, body), bytes(body))).toMatch(/5 minutes/);
    expect(await slackSignatureProblem('s3cret', ts, sign('other', ts, body), bytes(body))).toMatch(/does not match/);
    expect(await slackSignatureProblem('s3cret', ts, good.replace('v0=', 'v1='), bytes(body))).toMatch(/not a v0/);
    expect(await slackSignatureProblem('s3cret', ts, good.slice(0, -2), bytes(body))).toMatch(/not a v0/);
    expect(await slackSignatureProblem('s3cret', 'soon', good, bytes(body))).toMatch(/Unix time/);
    expect(await slackSignatureProblem('s3cret', undefined, good, bytes(body))).toMatch(/required/);
    expect(await slackSignatureProblem('s3cret', ts, undefined, bytes(body))).toMatch(/required/);
  });
});
