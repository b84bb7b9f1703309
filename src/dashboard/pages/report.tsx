/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { grants, type Scope } from '../../http/scopes.js';
import type { Report } from '../../reports/schemas.js';
import { duration, Layout, PostForm, Status, type Viewer } from '../layout.js';
import { ProgressBlock } from '../progress.js';

export interface LeaseView {
  holder: string;
  kind: string;
  expiresAt: string;
}

/** The scope cancelling a run needs, as POST /reports/{id}/cancel asks it. */
export const cancelScope = (changing: boolean): Scope => (changing ? 'apply' : 'run');

/** Every report's page: what, who, when, how it ended; then the kind's own section. */
export function ReportPage(props: { viewer: Viewer; report: Report; changing: boolean; children?: Child }) {
  const { report, viewer } = props;
  const running = report.status === 'running';
  return (
    <Layout
      title={`${report.kind[0]!.toUpperCase()}${report.kind.slice(1)} report`}
      viewer={viewer}
      refreshSeconds={running ? 3 : undefined}
      live={running}
    >
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <Status status={report.status} />
        </dd>
        <dt>Report</dt>
        <dd>
          <code>{report.id}</code> (<a href={`/reports/${report.id}`}>JSON</a>)
        </dd>
        <dt>Actor</dt>
        <dd>{report.actor}</dd>
        <dt>Started</dt>
        <dd>
          <time datetime={report.createdAt}>{report.createdAt}</time>
        </dd>
        <dt>Duration</dt>
        <dd>{running ? 'running' : duration(report.durationMs)}</dd>
        <dt>Summary</dt>
        <dd>{String(report.summary.message ?? '')}</dd>
        {report.takenOverFrom ? (
          <>
            <dt>Took over from</dt>
            <dd>
              <a href={`/dashboard/reports/${report.takenOverFrom}`}>{report.takenOverFrom}</a>
            </dd>
          </>
        ) : null}
      </dl>
      {report.error ? (
        <p class="problem" role="alert">
          <Status status="failed" label={report.error.title} />: {report.error.detail}
        </p>
      ) : null}
      {running && grants(viewer.scopes, cancelScope(props.changing)) ? (
        <p>
          <PostForm action={`/dashboard/reports/${report.id}/cancel`} viewer={viewer} label="Cancel this run" danger />
        </p>
      ) : null}
      {props.children}
      <details>
        <summary>The request</summary>
        <pre>{JSON.stringify(report.request, null, 2)}</pre>
      </details>
    </Layout>
  );
}

type Counts = Record<string, unknown>;

function CountsTable(props: { tables: Record<string, Counts> }) {
  const names = Object.keys(props.tables);
  // A count is a number, or an object with one (a migration's skipped rows); lists are shown below.
  const countOf = (value: unknown): number | undefined =>
    typeof value === 'number' ? value : ((value as { count?: unknown } | null)?.count as number | undefined);
  const columns = [
    ...new Set(
      names.flatMap((n) => Object.keys(props.tables[n]!).filter((k) => countOf(props.tables[n]![k]) !== undefined)),
    ),
  ];
  const cell = (value: unknown) => countOf(value)?.toLocaleString('en') ?? '–';
  return (
    <table>
      <caption>Rows per table</caption>
      <thead>
        <tr>
          <th scope="col">Table</th>
          {columns.map((c) => (
            <th scope="col">{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {names.map((name) => (
          <tr>
            <th scope="row">{name}</th>
            {columns.map((c) => (
              <td class="num">{cell(props.tables[name]![c])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function IdList(props: {
  title: string;
  rows: { id: string; table?: string; reason?: string; outcome?: string; fields?: string[] }[];
  truncated?: boolean;
}) {
  if (props.rows.length === 0) return null;
  return (
    <section>
      <h3>{props.title}</h3>
      <ul class="ids">
        {props.rows.map((row) => (
          <li>
            {row.table ? `${row.table} ` : ''}
            <code>{row.id}</code>
            {row.outcome ? ` — ${row.outcome}` : ''}
            {row.reason ? ` — ${row.reason}` : ''}
            {row.fields ? ` — ${row.fields.join(', ')}` : ''}
          </li>
        ))}
      </ul>
      {props.truncated ? <p class="hint">More rows than listed.</p> : null}
    </section>
  );
}

/** A migration or a rollback: its batches, pace and time left, the lease, and what it would or did do. */
export function RunSection(props: { viewer: Viewer; report: Report; lease: LeaseView | null | 'unknown' }) {
  const { report, viewer, lease } = props;
  const running = report.status === 'running';
  // A running report may not carry its own fields yet: its request says what it is.
  const dryRun = (report.dryRun ?? report.request.dryRun) !== false;
  const tables = (report.tables ?? {}) as Record<string, Counts>;
  const skipped = Object.entries(tables).flatMap(([table, counts]) =>
    ((counts.skipped as { rows?: { id: string; reason: string }[] } | undefined)?.rows ?? []).map((r) => ({
      ...r,
      table,
    })),
  );
  const bornInV2 =
    (report.bornInV2 as
      { rows: { table: string; id: string; outcome: string; reason?: string }[]; truncated: boolean } | undefined) ??
    null;
  const divergent =
    (report.divergent as { rows: { table: string; id: string; fields: string[] }[]; truncated: boolean } | undefined) ??
    null;
  const canApply = dryRun && report.status === 'succeeded' && grants(viewer.scopes, 'apply');
  return (
    <>
      <ProgressBlock report={report} />
      <dl class="facts">
        <dt>Mode</dt>
        <dd>{dryRun ? 'dry run (changes nothing)' : 'run (changes the database)'}</dd>
        {report.kind === 'rollback' ? (
          <>
            <dt>Plan id</dt>
            <dd>
              <code>{String(report.planId ?? '–')}</code>
            </dd>
          </>
        ) : null}
        {running && !dryRun ? (
          <>
            <dt>Lease holder</dt>
            <dd id="run-lease">
              {lease === 'unknown' ? (
                'not known (the database does not answer)'
              ) : lease === null ? (
                'nobody holds the lease'
              ) : (
                <>
                  <a href={`/dashboard/reports/${lease.holder}`}>
                    <code>{lease.holder}</code>
                  </a>{' '}
                  ({lease.holder === report.id ? 'this run' : lease.kind}), until{' '}
                  <time datetime={lease.expiresAt}>{lease.expiresAt}</time>
                </>
              )}
            </dd>
          </>
        ) : null}
      </dl>
      {canApply ? (
        <p>
          <a class="button" href={`/dashboard/reports/${report.id}/apply`}>
            {report.kind === 'rollback' ? 'Roll back with this plan…' : 'Apply this migration…'}
          </a>
        </p>
      ) : null}
      {Object.keys(tables).length > 0 ? <CountsTable tables={tables} /> : null}
      <IdList title="Skipped rows" rows={skipped} />
      {bornInV2 ? <IdList title="Born in v2" rows={bornInV2.rows} truncated={bornInV2.truncated} /> : null}
      {divergent ? (
        <IdList title="Changed in v2 after cutover" rows={divergent.rows} truncated={divergent.truncated} />
      ) : null}
    </>
  );
}
