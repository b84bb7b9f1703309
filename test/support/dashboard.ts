import { expect } from 'vitest';

/** One request to the service, however it is served (app.request, the Worker's fetch, a real server). */
export type Send = (path: string, init?: RequestInit) => Promise<Response>;

export const ORIGIN = 'http://localhost';

/** The session cookie a sign-in answered with, as a Cookie header value. */
export function sessionCookie(response: Response): string {
  const set = response.headers.get('set-cookie') ?? '';
  const match = /sark_dashboard=[^;]+/.exec(set);
  expect(match, `no session cookie in ${set}`).not.toBeNull();
  return match![0];
}

/** Signs in through the form, as a browser would (same-origin POST); the Cookie header to send after. */
export async function signIn(send: Send, token: string, origin = ORIGIN): Promise<string> {
  const response = await send('/dashboard/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
    body: new URLSearchParams({ token, next: '/dashboard' }).toString(),
    redirect: 'manual',
  });
  expect(response.status).toBe(303);
  return sessionCookie(response);
}

/** A page as the signed-in browser gets it. */
export function getPage(send: Send, path: string, cookie: string | null): Promise<Response> {
  return send(path, { headers: cookie ? { Cookie: cookie } : {}, redirect: 'manual' });
}

/** The CSRF token a page's forms carry. */
export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  expect(match, 'the page has no form with a CSRF token').not.toBeNull();
  return match![1]!;
}

/** Posts a dashboard form: same origin and the session's CSRF token unless a test leaves them out. */
export function postForm(
  send: Send,
  path: string,
  cookie: string,
  fields: Record<string, string>,
  origin: string | null = ORIGIN,
): Promise<Response> {
  return send(path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Cookie: cookie,
      ...(origin ? { Origin: origin } : {}),
    },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}
