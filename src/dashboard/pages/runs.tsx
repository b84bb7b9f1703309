/** @jsxImportSource hono/jsx */
import { grants } from '../../http/scopes.js';
import { REPORT_KINDS, type Report, type ReportKind, type ReportSummary } from '../../reports/schemas.js';
import type { ReportId } from '../../reports/ids.js';
import type { ReportStore } from '../../reports/store.js';
import { duration, Layout, PostForm, Status, type Viewer } from '../layout.js';
import { progressView } from '../progress.js';

export const RUN_STATUSES = [
  'running',
  'succeeded',
  'passed',
  'failed',
  'critical',
  'regressed',
  'cancelled',
  'abandoned',
] as const;

export interface RunsQuery {
  kind?: ReportKind | undefined;
  status?: string | undefined;
  cursor?: ReportId | undefined;
}

const PAGE = 25;
/** A status filter reads store pages until its page is full; this many at most per request. */
const MAX_STORE_PAGES = 20;

/** One page of reports, newest first, by the store's cursor; a status filter skips the others. */
export async function listRuns(store: ReportStore, query: RunsQuery) {
  const items: ReportSummary[] = [];
  let cursor = query.cursor;
  let exhausted = false;
  for (let pages = 0; !exhausted && items.length < PAGE && pages < MAX_STORE_PAGES; pages++) {
    const page = await store.list({ kind: query.kind, limit: PAGE, cursor });
    let stoppedEarly = false;
    for (const [i, item] of page.items.entries()) {
      cursor = item.id as ReportId;
      if (!query.status || item.status === query.status) items.push(item);
      if (items.length === PAGE) {
        stoppedEarly = i < page.items.length - 1;
        break;
      }
    }
    exhausted = page.nextCursor === null && !stoppedEarly;
  }
  return { items, nextCursor: exhausted ? null : (cursor ?? null) };
}

/** Left empty, the operation sizes its batches itself. */
function BatchSize(props: { id: string }) {
  return (
    <>
      <label for={props.id}>Batch size</label>{' '}
      <input
        id={props.id}
        name="batchSize"
        type="number"
        min="1"
        max="50000"
        placeholder="adaptive"
        class="small"
      />{' '}
    </>
  );
}

function elapsed(item: ReportSummary, now: number): string {
  const end = item.finishedAt ? Date.parse(item.finishedAt) : now;
  const text = duration(end - Date.parse(item.createdAt));
  return item.finishedAt ? text : `${text} so far`;
}

export function RunsPage(props: {
  viewer: Viewer;
  query: RunsQuery;
  items: ReportSummary[];
  running: Map<string, Report>;
  nextCursor: string | null;
}) {
  const { viewer, query } = props;
  const now = Date.now();
  const next = new URLSearchParams();
  if (query.kind) next.set('kind', query.kind);
  if (query.status) next.set('status', query.status);
  if (props.nextCursor) next.set('cursor', props.nextCursor);
  return (
    <Layout title="Runs" viewer={viewer}>
      {grants(viewer.scopes, 'run') ? (
        <section aria-labelledby="start-heading">
          <h2 id="start-heading">Start</h2>
          <p class="actions">
            <PostForm action="/dashboard/start/migration" viewer={viewer} label="Migration dry run">
              <BatchSize id="migration-batch-size" />
            </PostForm>
            <PostForm action="/dashboard/start/rollback" viewer={viewer} label="Rollback dry run">
              <BatchSize id="rollback-batch-size" />
            </PostForm>
            <PostForm action="/dashboard/start/preflight" viewer={viewer} label="Preflight" />
            <PostForm action="/dashboard/start/validation" viewer={viewer} label="Validate" />
            <PostForm action="/dashboard/start/benchmark" viewer={viewer} label="Benchmark" />
            <PostForm action="/dashboard/start/optimization" viewer={viewer} label="Optimize plan" />
          </p>
          <p class="hint">Dry runs change nothing; each report offers to apply what it planned.</p>
        </section>
      ) : null}
      <form method="get" action="/dashboard" class="filters" aria-label="Filter runs">
        <label>
          Kind{' '}
          <select name="kind">
            <option value="">any</option>
            {REPORT_KINDS.map((kind) => (
              <option value={kind} selected={query.kind === kind}>
                {kind}
              </option>
            ))}
          </select>
        </label>{' '}
        <label>
          Status{' '}
          <select name="status">
            <option value="">any</option>
            {RUN_STATUSES.map((status) => (
              <option value={status} selected={query.status === status}>
                {status}
              </option>
            ))}
          </select>
        </label>{' '}
        <button type="submit">Filter</button>
      </form>
      {props.items.length === 0 ? (
        <p>No reports{query.kind || query.status ? ' match this filter' : ' yet'}.</p>
      ) : (
        <table class="runs">
          <caption>Reports, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Report</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Actor</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {props.items.map((item) => {
              const report = props.running.get(item.id);
              const view = report ? progressView(report, now) : null;
              return (
                <tr>
                  <td>
                    <a href={`/dashboard/reports/${item.id}`}>
                      <code>{item.id.slice(0, 13)}…</code>
                    </a>
                  </td>
                  <td>{item.kind}</td>
                  <td>
                    <Status status={item.status} />
                    {view ? (
                      <>
                        {' '}
                        {view.total === null ? (
                          <progress aria-label={view.text}></progress>
                        ) : (
                          <progress
                            value={String(view.done)}
                            max={String(Math.max(view.total, 1))}
                            aria-label={view.text}
                          ></progress>
                        )}{' '}
                        <span class="hint">{view.text}</span>
                      </>
                    ) : null}
                  </td>
                  <td>{item.actor}</td>
                  <td>
                    <time datetime={item.createdAt}>{item.createdAt.replace('T', ' ').slice(0, 19)}</time>
                  </td>
                  <td>{elapsed(item, now)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {props.nextCursor ? (
        <p>
          <a href={`/dashboard?${next.toString()}`} rel="next">
            Older reports →
          </a>
        </p>
      ) : null}
    </Layout>
  );
}
