import { createMiddleware } from 'hono/factory';
import { ServiceError } from '../errors.js';
import type { AppEnv } from './create-router.js';
import { HttpProblem } from './problems.js';
import { slackScopes, type Scope } from './scopes.js';

/**
 * Slack's request signing (https://api.slack.com/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{raw body}">`,
 * keyed with the app's signing secret. WebCrypto only, so Node and Workers verify alike.
 */

/** A request older (or further ahead) than this is refused: a replayed one would otherwise pass. */
export const SLACK_MAX_SKEW_S = 5 * 60;

const encoder = new TextEncoder();
const SIGNATURE = /^v0=([0-9a-f]{64})$/;

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Why a request is not Slack's, or undefined when its signature holds. */
export async function slackSignatureProblem(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: Uint8Array<ArrayBuffer>,
  nowSeconds: number = Date.now() / 1000,
): Promise<string | undefined> {
  if (!timestamp || !signature) return 'X-Slack-Request-Timestamp and X-Slack-Signature are required.';
  if (!/^\d{1,12}$/.test(timestamp)) return 'X-Slack-Request-Timestamp is not a Unix time.';
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_S)
    return `The request is more than ${SLACK_MAX_SKEW_S / 60} minutes from this server's clock: refused as a possible replay.`;
  const hex = SIGNATURE.exec(signature.trim().toLowerCase())?.[1];
  if (!hex) return 'X-Slack-Signature is not a v0 signature.';
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'verify',
  ]);
  const prefix = encoder.encode(`v0:${timestamp}:`);
  const base = new Uint8Array(prefix.length + rawBody.length);
  base.set(prefix);
  base.set(rawBody, prefix.length);
  // WebCrypto's verify compares in constant time.
  const valid = await crypto.subtle.verify('HMAC', key, hexBytes(hex), base);
  return valid ? undefined : 'The Slack signature does not match.';
}

/**
 * Lets a request through only when Slack signed it, before anything reads its body otherwise;
 * sets `slackForm`, the form it carried. 503 when the door is not configured, 401 when unsigned.
 */
export function slackSigned() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const slack = c.var.slack;
    if (!slack)
      throw new ServiceError('not-configured', 'The Slack door is off: SLACK_SIGNING_SECRET is not configured.');
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const problem = await slackSignatureProblem(
      slack.signingSecret,
      c.req.header('X-Slack-Request-Timestamp'),
      c.req.header('X-Slack-Signature'),
      raw,
    );
    if (problem) throw new HttpProblem('unauthorized', problem);
    c.set('slackForm', new URLSearchParams(new TextDecoder().decode(raw)));
    await next();
  });
}

/** Who a Slack user is to the service: the actor of the reports, and the scopes SLACK_PRINCIPALS grants. */
export interface SlackActor {
  team: string;
  user: string;
  actor: string;
  /** Undefined: not a principal, refused. */
  scopes: Scope[] | undefined;
}

export function slackActor(principals: Parameters<typeof slackScopes>[0], team: string, user: string): SlackActor {
  return {
    team,
    user,
    actor: `slack:${team}/${user}`,
    scopes: team && user ? slackScopes(principals, team, user) : undefined,
  };
}
