/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import type { Scope } from '../http/scopes.js';

/** Who is signed in, and the CSRF token of their forms; absent on the sign-in and error pages. */
export interface Viewer {
  name: string;
  scopes: readonly Scope[];
  csrf: string;
}

export const ASSETS = '/dashboard/assets';

/** The page shell: skip link, navigation, one <main>. Every page is readable without JavaScript. */
export function Layout(props: {
  title: string;
  viewer?: Viewer | undefined;
  /** Without JavaScript, the page reloads itself this often (a running report). */
  refreshSeconds?: number | undefined;
  /** Loads the script that keeps a running report's progress moving. */
  live?: boolean;
  children?: Child;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · sark-migrate`}</title>
        <link rel="stylesheet" href={`${ASSETS}/dashboard.css`} />
        {props.refreshSeconds ? (
          <noscript>
            <meta http-equiv="refresh" content={String(props.refreshSeconds)} />
          </noscript>
        ) : null}
        {props.live ? <script src={`${ASSETS}/live.js`} defer></script> : null}
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <nav aria-label="Dashboard">
            <strong>sark-migrate</strong>
            {props.viewer ? (
              <>
                <a href="/dashboard">Runs</a>
                <a href="/dashboard/health">Health</a>
                <span class="who">
                  Signed in as <strong>{props.viewer.name}</strong> ({props.viewer.scopes.join(', ')})
                </span>
                <form method="post" action="/dashboard/sign-out" class="inline">
                  <input type="hidden" name="csrf" value={props.viewer.csrf} />
                  <button type="submit">Sign out</button>
                </form>
              </>
            ) : null}
          </nav>
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

type Tone = 'good' | 'bad' | 'warn' | 'busy' | 'neutral';

const TONES: Record<string, { tone: Tone; icon: string }> = {
  succeeded: { tone: 'good', icon: '✔' },
  passed: { tone: 'good', icon: '✔' },
  ok: { tone: 'good', icon: '✔' },
  built: { tone: 'good', icon: '✔' },
  faster: { tone: 'good', icon: '▼' },
  failed: { tone: 'bad', icon: '✖' },
  critical: { tone: 'bad', icon: '✖' },
  error: { tone: 'bad', icon: '✖' },
  regressed: { tone: 'warn', icon: '▲' },
  slower: { tone: 'warn', icon: '▲' },
  warning: { tone: 'warn', icon: '⚠' },
  cancelled: { tone: 'warn', icon: '⊘' },
  abandoned: { tone: 'warn', icon: '⚠' },
  running: { tone: 'busy', icon: '⟳' },
};

/** A status as a word with an icon: colour is never the only signal. */
export function Status(props: { status: string; label?: string }) {
  const { tone, icon } = TONES[props.status] ?? { tone: 'neutral' as const, icon: '•' };
  return (
    <span class={`status ${tone}`}>
      <span aria-hidden="true">{icon}</span> {props.label ?? props.status}
    </span>
  );
}

/** Yes/no with a word, for flags (within target, reachable, ...). */
export function YesNo(props: { value: boolean | null | undefined; yes?: string; no?: string }) {
  if (props.value === null || props.value === undefined) return <span class="status neutral">– n/a</span>;
  return props.value ? (
    <Status status="ok" label={props.yes ?? 'yes'} />
  ) : (
    <Status status="failed" label={props.no ?? 'no'} />
  );
}

/** A changing form: POST with the session's CSRF token. */
export function PostForm(props: { action: string; viewer: Viewer; label: string; danger?: boolean; children?: Child }) {
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name="csrf" value={props.viewer.csrf} />
      {props.children}
      <button type="submit" class={props.danger ? 'danger' : undefined}>
        {props.label}
      </button>
    </form>
  );
}

export const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? '–' : `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;

export function duration(milliseconds: number | null | undefined): string {
  if (milliseconds === null || milliseconds === undefined) return '–';
  const s = milliseconds / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
