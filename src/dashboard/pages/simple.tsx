/** @jsxImportSource hono/jsx */
import type { HealthReport } from '../../operations/probe.js';
import { Layout, PostForm, Status, YesNo, type Viewer } from '../layout.js';

export function SignInPage(props: { next: string; error?: string | undefined }) {
  return (
    <Layout title="Sign in">
      {props.error ? (
        <p class="problem" role="alert">
          <Status status="failed" label="Not signed in" />: {props.error}
        </p>
      ) : null}
      <form method="post" action="/dashboard/sign-in" class="stack">
        <input type="hidden" name="next" value={props.next} />
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required autofocus />
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">
        The token is checked once, as the API checks a bearer token; the browser keeps only a signed session cookie
        (HttpOnly, SameSite=Strict) with its name and scopes, for an hour.
      </p>
    </Layout>
  );
}

/** An answer that is not a page of data: not found, forbidden, a refused operation. */
export function MessagePage(props: { title: string; detail: string; viewer?: Viewer | undefined; status?: string }) {
  return (
    <Layout title={props.title} viewer={props.viewer}>
      <p class="problem" role="alert">
        <Status status={props.status ?? 'failed'} label={props.title} />: {props.detail}
      </p>
      <p>
        <a href="/dashboard">Back to the runs</a>
      </p>
    </Layout>
  );
}

/** What an apply will do, and the one button that does it. */
export function ConfirmPage(props: {
  viewer: Viewer;
  title: string;
  what: string;
  sql?: string | undefined;
  action: string;
  fields: Record<string, string>;
  back: string;
}) {
  return (
    <Layout title={props.title} viewer={props.viewer}>
      <p>{props.what}</p>
      {props.sql ? (
        <pre>
          <code>{props.sql}</code>
        </pre>
      ) : null}
      <p class="actions">
        <PostForm action={props.action} viewer={props.viewer} label="Confirm" danger>
          {Object.entries(props.fields).map(([name, value]) => (
            <input type="hidden" name={name} value={value} />
          ))}
        </PostForm>{' '}
        <a href={props.back}>Cancel, go back</a>
      </p>
    </Layout>
  );
}

export function HealthPage(props: { viewer: Viewer; health: HealthReport; runtime: string }) {
  const { health } = props;
  return (
    <Layout title="Health" viewer={props.viewer}>
      <p>
        <Status
          status={health.status === 'ok' ? 'ok' : 'failed'}
          label={health.status === 'ok' ? 'ok' : 'unavailable'}
        />{' '}
        on {props.runtime}, checked at <time datetime={health.checkedAt}>{health.checkedAt}</time>
      </p>
      <h2>Database</h2>
      <dl class="facts">
        <dt>Reachable</dt>
        <dd>
          <YesNo value={health.database.reachable} />
        </dd>
        <dt>Driver</dt>
        <dd>{health.database.driver}</dd>
        <dt>Server</dt>
        <dd>{health.database.serverVersion ?? '–'}</dd>
        <dt>Latency</dt>
        <dd>{health.database.latencyMs === null ? '–' : `${health.database.latencyMs} ms`}</dd>
      </dl>
      <h2>Schema versions</h2>
      <dl class="facts">
        <dt>SARK v1</dt>
        <dd>
          <YesNo value={health.schemas.v1} yes="present" no="absent" />
        </dd>
        <dt>SARK v2</dt>
        <dd>
          <YesNo value={health.schemas.v2} yes="present" no="absent" />
        </dd>
        <dt>Service schema ({health.schemas.service.name})</dt>
        <dd>
          <YesNo
            value={health.schemas.service.current}
            yes="current"
            no={`pending: ${health.schemas.service.pending.join(', ')}`}
          />
        </dd>
      </dl>
      <table>
        <caption>Tables</caption>
        <tbody>
          {Object.entries(health.schemas.tables).map(([table, present]) => (
            <tr>
              <th scope="row">
                <code>{table}</code>
              </th>
              <td>
                <YesNo value={present} yes="present" no="absent" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Report store</h2>
      <p>
        <YesNo value={health.storage.ok} yes="answers" no="does not answer" />
      </p>
    </Layout>
  );
}
