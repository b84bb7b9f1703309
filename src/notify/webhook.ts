import { Webhook } from 'standardwebhooks';
import type { Report } from '../reports/schemas.js';
import type { Signer } from './send.js';

/**
 * The generic notification (`notify`, NOTIFY_URL): a run's summary, in the envelope Standard
 * Webhooks recommends ({type, timestamp, data}), signed with NOTIFY_SECRET as that spec says.
 */

export type WebhookEvent = 'run.ended' | 'run.refused';

export interface WebhookPayload {
  type: WebhookEvent;
  timestamp: string;
  data: {
    /** The report id; null for a run refused before it had one (an HTTP respond-async run on Node). */
    id: string | null;
    kind: Report['kind'];
    /** The report's final status, or `refused`: the run did not start (lock busy, a stale plan, ...). */
    status: Report['status'] | 'refused';
    summary: Record<string, unknown>;
    exitCode?: number;
    finishedAt: string;
    /** The report (GET, with a token that may read it); null when no report was stored. */
    link: string | null;
  };
}

export const reportLink = (origin: string, id: string) => `${origin}/reports/${id}`;

export function endedPayload(report: Report, origin: string): WebhookPayload {
  const exitCode = (report as { exitCode?: unknown }).exitCode;
  const finishedAt = report.finishedAt ?? new Date().toISOString();
  return {
    type: 'run.ended',
    timestamp: finishedAt,
    data: {
      id: report.id,
      kind: report.kind,
      status: report.status,
      summary: report.summary,
      ...(typeof exitCode === 'number' ? { exitCode } : {}),
      finishedAt,
      link: reportLink(origin, report.id),
    },
  };
}

export function refusedPayload(
  run: { kind: Report['kind']; id: string | null },
  problem: { kind: string; detail: string },
): WebhookPayload {
  const now = new Date().toISOString();
  return {
    type: 'run.refused',
    timestamp: now,
    data: {
      id: run.id,
      kind: run.kind,
      status: 'refused',
      summary: { message: `Not started (${problem.kind}): ${problem.detail}`, problem: problem.kind },
      finishedAt: now,
      link: null,
    },
  };
}

/**
 * Signs every attempt of one message: the same webhook-id on each (the receiver's key for
 * duplicates), a fresh webhook-timestamp, and webhook-signature `v1,<base64 HMAC-SHA256>` of
 * `{id}.{timestamp}.{body}` with the secret's bytes.
 */
export function standardSigner(secret: string, messageId: string): Signer {
  const webhook = new Webhook(secret);
  return async (body) => {
    const now = new Date();
    return {
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': webhook.sign(messageId, now, body),
    };
  };
}

/** Whether a NOTIFY_SECRET is in the spec's form: `whsec_` and base64 of 24 to 64 random bytes. */
export function secretProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return 'must start with whsec_ (Standard Webhooks)';
  const base64 = secret.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return 'must be whsec_ and base64';
  const bytes = (base64.length / 4) * 3 - (base64.match(/=+$/)?.[0].length ?? 0);
  if (bytes < 24 || bytes > 64) return 'must hold 24 to 64 bytes (e.g. whsec_ and `openssl rand -base64 32`)';
  return undefined;
}
