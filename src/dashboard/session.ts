import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { sha256Hex } from '../http/auth.js';
import { SCOPES, type Scope, type TokenEntry } from '../http/scopes.js';

/**
 * The dashboard's session: a cookie signed with HMAC-SHA256 (hono/cookie) under DASHBOARD_SECRET,
 * holding the token's name, its scopes, a fingerprint of its entry and an expiry; never the token.
 * A session is good only while API_TOKENS still has that entry with those scopes: removing or
 * rotating a token ends its sessions.
 */

export const SESSION_COOKIE = 'sark_dashboard';
/** Short-lived: an hour, after which the form asks for the token again. */
export const SESSION_TTL_S = 60 * 60;
const PATH = '/dashboard';

export interface Session {
  name: string;
  scopes: Scope[];
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** Random per sign-in: the CSRF token of its forms is derived from it. */
  sid: string;
  /** Of the token's API_TOKENS entry, so a rotated token's sessions end. */
  fp: string;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function fromBase64url(text: string): string {
  return atob(text.replace(/-/g, '+').replace(/_/g, '/'));
}

const fingerprint = async (entry: TokenEntry) => (await sha256Hex(`sark-dashboard:${entry.sha256}`)).slice(0, 32);

/** Secure over https (directly, or behind a proxy that says so). */
function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('X-Forwarded-Proto') === 'https';
}

export async function startSession(c: Context, secret: string, entry: TokenEntry): Promise<Session> {
  const session: Session = {
    name: entry.name,
    scopes: [...entry.scopes],
    exp: Math.floor(Date.now() / 1000) + SESSION_TTL_S,
    sid: base64url(crypto.getRandomValues(new Uint8Array(16))),
    fp: await fingerprint(entry),
  };
  const value = base64url(encoder.encode(JSON.stringify(session)));
  await setSignedCookie(c, SESSION_COOKIE, value, secret, {
    path: PATH,
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(c),
    maxAge: SESSION_TTL_S,
  });
  return session;
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: PATH, secure: isHttps(c) });
}

const sameScopes = (a: readonly Scope[], b: readonly Scope[]) =>
  a.length === b.length && a.every((scope) => b.includes(scope));

/**
 * The session's principal: its entry in API_TOKENS, when the cookie is there, signed by this
 * secret, not expired, and its token still configured with the same scopes; otherwise null.
 */
export async function readSession(
  c: Context,
  secret: string,
  tokens: readonly TokenEntry[] | undefined,
): Promise<{ session: Session; principal: TokenEntry } | null> {
  const value = await getSignedCookie(c, secret, SESSION_COOKIE);
  if (!value) return null; // absent, or its signature does not match (forged, or another secret's)
  let session: Session;
  try {
    session = JSON.parse(fromBase64url(value)) as Session;
  } catch {
    return null;
  }
  if (
    typeof session.exp !== 'number' ||
    session.exp * 1000 <= Date.now() ||
    !Array.isArray(session.scopes) ||
    !session.scopes.every((s) => (SCOPES as readonly string[]).includes(s))
  )
    return null;
  const entry = tokens?.find((t) => t.name === session.name);
  if (!entry || (await fingerprint(entry)) !== session.fp || !sameScopes(entry.scopes, session.scopes)) return null;
  return { session, principal: entry };
}

/** The token every changing form of a session carries: an HMAC of the session's random id. */
export async function csrfToken(secret: string, session: Session): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return base64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`csrf:${session.sid}`))));
}

/** Compares in time independent of where two strings differ. */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
