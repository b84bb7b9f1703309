import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { AppEnv } from './create-router.js';
import { ServiceError } from '../errors.js';
import { HttpProblem } from './problems.js';
import { grants, type Scope, type TokenEntry } from './scopes.js';

const encoder = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two equal-length hex digests in time independent of where they differ. */
function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** The entry whose hash matches the token; every entry is compared, so timing reveals nothing. */
export async function findToken(token: string, entries: readonly TokenEntry[]): Promise<TokenEntry | undefined> {
  const digest = await sha256Hex(token);
  let found: TokenEntry | undefined;
  for (const entry of entries) if (digestsEqual(digest, entry.sha256) && !found) found = entry;
  return found;
}

/** A new bearer token: 32 random bytes, base64url, with a prefix that secret scanners can spot. */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `smk_${base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** For operations whose scope depends on the body (a dry run needs run, a real run apply). */
export function assertScope(principal: TokenEntry, scope: Scope, why: string): void {
  if (!grants(principal.scopes, scope)) {
    throw new HttpProblem('forbidden', `The token "${principal.name}" lacks the "${scope}" scope, which ${why} needs.`);
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The request's token entry when it carries `scope` (any, for `any`); 401 without a known token, 403 without the scope. */
export async function authenticate(c: Context<AppEnv>, scope: Scope | 'any'): Promise<TokenEntry> {
  const tokens = c.var.tokens;
  if (!tokens) {
    throw new ServiceError(
      'not-configured',
      'No API tokens are configured (API_TOKENS), so no operation can be authorised.',
    );
  }
  const presented = BEARER.exec(c.req.header('Authorization') ?? '')?.[1];
  const entry = presented ? await findToken(presented, tokens) : undefined;
  if (!entry) {
    const detail = presented
      ? 'The bearer token is not known.'
      : 'Send an API token as `Authorization: Bearer <token>`.';
    throw new HttpProblem('unauthorized', detail, {
      headers: { 'WWW-Authenticate': `Bearer realm="sark-migrate", scope="${scope}"` },
    });
  }
  if (scope !== 'any' && !grants(entry.scopes, scope)) {
    throw new HttpProblem('forbidden', `The token "${entry.name}" lacks the "${scope}" scope.`, {
      headers: { 'WWW-Authenticate': `Bearer realm="sark-migrate", error="insufficient_scope", scope="${scope}"` },
    });
  }
  return entry;
}

/** Lets the request through when its bearer token carries `scope` (any known token, for `any`); sets `principal`. */
export function requireScope(scope: Scope | 'any') {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set('principal', await authenticate(c, scope));
    await next();
  });
}
