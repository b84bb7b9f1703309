/**
 * The one sender of outgoing notifications (Slack's response_url today; a signed `notify` URL
 * later): a JSON POST, retried with backoff on 5xx, 429 and timeouts, every attempt recorded so a
 * report can say what became of it. Where a URL may point is checked first (targetProblem).
 */

export interface NotifyOptions {
  /** NOTIFY_ALLOW_PRIVATE: any http(s) URL, private and loopback addresses included (tests, private networks). */
  allowPrivate: boolean;
  /** Attempts in all, the first included (default 3). */
  attempts?: number;
  /** The wait before the second attempt; doubled before each later one (default 500 ms). */
  backoffMs?: number;
  /** How long one attempt may take (default 5 s). */
  timeoutMs?: number;
  /**
   * Resolves a host name to its addresses (Node: node:dns), so a name that points at a private
   * address is refused too, before each attempt. Absent (Workers, whose fetch cannot reach a
   * private network anyway): only literal addresses and local names are judged.
   */
  resolve?: (hostname: string) => Promise<string[]>;
  /** NOTIFY_SECRET (`whsec_…`): signs generic notifications (Standard Webhooks); without it none is sent. */
  secret?: string;
  /** NOTIFY_URL: where an async run's end is posted when its request names no `notify`. */
  defaultUrl?: string;
}

export interface Attempt {
  at: string;
  /** The receiver's HTTP status, or null when no answer came (a timeout, a refused connection). */
  status: number | null;
  ms: number;
  error?: string;
}

export interface Delivery {
  delivered: boolean;
  attempts: Attempt[];
}

/**
 * Headers a later signer adds to each attempt (Standard Webhooks: webhook-id, webhook-timestamp,
 * webhook-signature), from the body exactly as sent.
 */
export type Signer = (body: string) => Promise<Record<string, string>>;

/** Where the URL must point: Slack's own host for a response_url, any public host for a generic notify. */
export type TargetRule = { host: 'hooks.slack.com' } | { host: 'any' };

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Loopback, private, link-local, carrier-grade NAT, unspecified, multicast and reserved IPv4 ranges. */
function privateIpv4(a: number, b: number): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

/** Whether a URL's host names this machine or a private network by itself (a literal address, localhost). */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal') || host.endsWith('.local'))
    return true;
  const v4 = IPV4.exec(host);
  if (v4) return privateIpv4(Number(v4[1]), Number(v4[2]));
  if (!host.includes(':')) return false;
  // IPv6: unspecified, loopback, unique local (fc00::/7), link-local (fe80::/10), IPv4-mapped.
  if (host === '::' || host === '::1') return true;
  if (/^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host)) return true;
  const mapped = /^::ffff:(.+)$/.exec(host)?.[1];
  if (mapped) {
    const dotted = IPV4.exec(mapped);
    if (dotted) return privateIpv4(Number(dotted[1]), Number(dotted[2]));
    const [hi = '0'] = mapped.split(':');
    const word = parseInt(hi, 16);
    return privateIpv4(word >> 8, word & 0xff);
  }
  return false;
}

/** Why a notification may not go to `url`, or undefined when it may. */
export function targetProblem(
  url: string,
  rule: TargetRule,
  options: Pick<NotifyOptions, 'allowPrivate'>,
): string | undefined {
  if (!URL.canParse(url)) return 'is not a URL';
  const parsed = new URL(url);
  if (parsed.username || parsed.password) return 'must not carry credentials';
  if (options.allowPrivate) {
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? undefined : 'must be an http(s) URL';
  }
  if (parsed.protocol !== 'https:') return 'must be an https URL';
  if (rule.host !== 'any' && parsed.hostname.toLowerCase() !== rule.host) return `must be on ${rule.host}`;
  if (isPrivateHost(parsed.hostname)) return 'must not point at a private, loopback or link-local address';
  if (parsed.port !== '' && parsed.port !== '443') return 'must use the https port';
  return undefined;
}

/**
 * targetProblem, and where NotifyOptions can resolve names, the addresses the host name resolves
 * to: every one of them must be public. A name that does not resolve is refused too.
 */
export async function resolvedTargetProblem(
  url: string,
  rule: TargetRule,
  options: Pick<NotifyOptions, 'allowPrivate' | 'resolve'>,
): Promise<string | undefined> {
  const problem = targetProblem(url, rule, options);
  if (problem || options.allowPrivate || !options.resolve) return problem;
  const hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (IPV4.test(hostname) || hostname.includes(':')) return undefined; // a literal address, judged above
  const addresses = await options.resolve(hostname).catch(() => []);
  if (addresses.length === 0) return `names a host that does not resolve (${hostname})`;
  if (addresses.some(isPrivateHost)) return 'resolves to a private, loopback or link-local address';
  return undefined;
}

const RETRIED = (status: number) => status >= 500 || status === 429 || status === 408;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs `payload` as JSON to `url`, which the caller checked with targetProblem. Never throws:
 * what happened is in the Delivery. Redirects are not followed (a 3xx is an answer, not retried),
 * so a checked URL cannot hand the request on to a private address.
 */
export async function postJson(
  url: string,
  payload: unknown,
  options: NotifyOptions,
  sign?: Signer,
): Promise<Delivery> {
  const body = JSON.stringify(payload);
  const attempts: Attempt[] = [];
  const limit = Math.max(1, options.attempts ?? 3);
  for (let n = 0; n < limit; n++) {
    if (n > 0) await wait((options.backoffMs ?? 500) * 2 ** (n - 1));
    const started = Date.now();
    const at = new Date(started).toISOString();
    try {
      // Names are judged again at each attempt: where they point may have changed since the request.
      const refused = options.resolve ? await resolvedTargetProblem(url, { host: 'any' }, options) : undefined;
      if (refused) {
        attempts.push({ at, status: null, ms: Date.now() - started, error: `not sent: the URL ${refused}` });
        break;
      }
      const headers = { 'Content-Type': 'application/json', ...(sign ? await sign(body) : {}) };
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      await response.arrayBuffer().catch(() => undefined); // frees the connection
      attempts.push({ at, status: response.status, ms: Date.now() - started });
      if (response.status < 300) return { delivered: true, attempts };
      if (!RETRIED(response.status)) break;
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const message = timedOut ? 'timed out' : error instanceof Error ? error.message : String(error);
      attempts.push({ at, status: null, ms: Date.now() - started, error: message });
    }
  }
  return { delivered: false, attempts };
}
