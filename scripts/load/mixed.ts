/**
 * Reads under load: autocannon keeps `connections` connections busy for `durationS` seconds,
 * half of them on GET /reports and half on POST /validate {"mode":"quick"}. Of the validating
 * connections, `users` have a token each and the rest share one user's token, so the rule of
 * one read per token at a time is met both as many users and as one user meet it.
 *
 * Each group is an autocannon instance of its own, all three at once, so every figure is per
 * kind of request. A 5xx, a connection error, a timeout or a status the group does not allow is
 * a violation; 429 is the service's correct answer to a second read of one token, and is only
 * allowed where a token has more than one connection.
 */
import autocannon from 'autocannon';
import { quantile } from '../../src/measure/stats.js';
import type { LoadTokens } from './tokens.js';

export interface MixedLoadOptions {
  url: string;
  durationS: number;
  connections: number;
  tokens: LoadTokens;
  /** How long a connection waits for an answer before autocannon counts a timeout. */
  timeoutS: number;
}

export interface GroupFigures {
  request: string;
  callers: string;
  connections: number;
  responses: number;
  perSecond: number;
  /** Latency of every response of the group, ms. */
  p50Ms: number;
  p99Ms: number;
  /** Latency of the 200s alone (the validations that ran), ms; null without any. */
  okP50Ms: number | null;
  okP99Ms: number | null;
  statuses: Record<string, number>;
  /** The report status of each 200 (validations only). */
  reportStatuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

export interface MixedLoadResult {
  groups: GroupFigures[];
  violations: string[];
}

interface Group {
  request: string;
  callers: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  connections: number;
  tokenOf(connection: number): string;
  allowed: readonly number[];
}

const people = (n: number) => `${n} user${n === 1 ? '' : 's'}`;

/** The three groups: GET /reports; validations of many users; validations of one user. */
export function loadGroups(connections: number, tokens: LoadTokens): Group[] {
  const listing = Math.floor(connections / 2);
  const validating = connections - listing;
  const users = Math.min(tokens.users.length, validating);
  const shared = validating - users;
  const validate = { method: 'POST' as const, path: '/validate', body: JSON.stringify({ mode: 'quick' }) };
  const groups: Group[] = [
    {
      request: 'GET /reports',
      callers: people(Math.min(users, listing)),
      method: 'GET',
      path: '/reports',
      connections: listing,
      tokenOf: (i) => tokens.users[i % users]!,
      allowed: [200],
    },
    {
      request: 'POST /validate quick',
      callers: `${people(users)}, 1 connection each`,
      ...validate,
      connections: users,
      tokenOf: (i) => tokens.users[i]!,
      // Each of these tokens has one request at a time: a 429 would refuse a read that is alone.
      allowed: [200],
    },
  ];
  if (shared > 0)
    groups.push({
      request: 'POST /validate quick',
      callers: `1 user, ${shared} connections`,
      ...validate,
      connections: shared,
      tokenOf: () => tokens.oneUser,
      allowed: [200, 429],
    });
  return groups.filter((g) => g.connections > 0);
}

const round = (ms: number) => Math.round(ms * 10) / 10;
const percentiles = (samples: number[]) => {
  if (samples.length === 0) return { p50: null, p99: null };
  const sorted = samples.sort((a, b) => a - b);
  return { p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)) };
};

/** A problem's type and detail (without its request id, so that repeats group), or the body's start. */
function problemOf(body: string): string {
  try {
    const { type, detail } = JSON.parse(body) as { type?: unknown; detail?: unknown };
    if (typeof type === 'string') return `${type}: ${String(detail)}`;
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}

/** The `status` of a report answered as JSON; `unreadable` when the body is not one. */
function reportStatusOf(body: string): string {
  try {
    return String((JSON.parse(body) as { status?: unknown }).status);
  } catch {
    return 'unreadable';
  }
}

async function runGroup(group: Group, options: MixedLoadOptions, violations: string[]): Promise<GroupFigures> {
  const all: number[] = [];
  const ok: number[] = [];
  const reportStatuses: Record<string, number> = {};
  const label = `${group.request} (${group.callers})`;
  const noted = new Map<string, number>();
  /** A violation, told once per kind with its count at the end: a broken rule repeats thousands of times. */
  const violation = (what: string) => noted.set(what, (noted.get(what) ?? 0) + 1);
  let next = 0;

  const onResponse = (status: number, body: string, _context: object, headers: Record<string, unknown>) => {
    if (status >= 500) violation(`${status} ${problemOf(body)}`);
    else if (!group.allowed.includes(status))
      violation(`${status} (allowed: ${group.allowed.join(', ')}) ${problemOf(body)}`);
    if (status === 429 && (!headers['retry-after'] || !body.includes('too-many-runs')))
      violation(`429 without Retry-After or too-many-runs: ${problemOf(body)}`);
    if (status === 200 && group.method === 'POST') {
      const reportStatus = reportStatusOf(body);
      reportStatuses[reportStatus] = (reportStatuses[reportStatus] ?? 0) + 1;
      // The data is migrated and nothing changes it meanwhile: every validation must pass.
      if (reportStatus !== 'passed') violation(`a validation ended ${reportStatus}`);
    }
  };

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: group.connections,
        duration: options.durationS,
        timeout: options.timeoutS,
        setupClient(client) {
          const token = group.tokenOf(next++);
          // A fresh request per connection: autocannon shares the `requests` objects between connections.
          client.setRequests([
            {
              method: group.method,
              path: group.path,
              headers: {
                authorization: `Bearer ${token}`,
                ...(group.body ? { 'content-type': 'application/json' } : {}),
              },
              ...(group.body ? { body: group.body } : {}),
              onResponse: onResponse as NonNullable<autocannon.Request['onResponse']>,
            },
          ]);
        },
      },
      (error: unknown, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      all.push(ms);
      if (status === 200) ok.push(ms);
    });
  });

  if (result.errors > 0 || result.timeouts > 0)
    violation(`${result.errors} connection errors, of which ${result.timeouts} timeouts (over ${options.timeoutS} s)`);
  for (const [what, count] of noted) violations.push(`${label}: ${count} × ${what}`);
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count ?? 0]),
  );
  const every = percentiles(all);
  const ran = percentiles(ok);
  return {
    request: group.request,
    callers: group.callers,
    connections: group.connections,
    responses: all.length,
    perSecond: round(all.length / result.duration),
    p50Ms: every.p50 ?? 0,
    p99Ms: every.p99 ?? 0,
    okP50Ms: ran.p50,
    okP99Ms: ran.p99,
    statuses,
    reportStatuses,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** The three groups at once against one service. */
export async function mixedLoad(options: MixedLoadOptions): Promise<MixedLoadResult> {
  const violations: string[] = [];
  const groups = await Promise.all(
    loadGroups(options.connections, options.tokens).map((g) => runGroup(g, options, violations)),
  );
  return { groups, violations };
}
