/** @jsxImportSource hono/jsx */
import { grants } from '../../http/scopes.js';
import type { Applied, IndexEntry, Measured, Recommendation } from '../../reports/optimization.js';
import type { Report } from '../../reports/schemas.js';
import { ms, Status, type Viewer } from '../layout.js';
import { ProgressBlock } from '../progress.js';

const PRIORITY_ICON: Record<Recommendation['priority'], string> = {
  high: '▲▲▲',
  medium: '▲▲',
  low: '▲',
  none: '–',
  unknown: '?',
};

const timing = (m: Measured | undefined) => (m ? `${ms(m.p50Ms)} / ${ms(m.p95Ms)}` : '–');

/** Candidates with their evidence and priority; applied indexes with before/after; apply behind a confirmation. */
export function OptimizeSection(props: { viewer: Viewer; report: Report }) {
  const { report, viewer } = props;
  if (report.status === 'running') return <ProgressBlock report={report} />;
  const recommendations = (report.recommendations ?? []) as Recommendation[];
  const applied = (report.applied ?? []) as Applied[];
  const flagged = ((report.indexes ?? []) as IndexEntry[]).filter((i) => i.flags.length > 0);
  const mayApply = grants(viewer.scopes, 'apply');
  return (
    <>
      {recommendations.length > 0 ? (
        <section aria-labelledby="candidates">
          <h2 id="candidates">Candidate indexes</h2>
          <ul class="candidates">
            {recommendations.map((r) => (
              <li>
                <h3>
                  <code>{r.name}</code>{' '}
                  <span class={`priority ${r.priority}`}>
                    <span aria-hidden="true">{PRIORITY_ICON[r.priority]}</span> priority {r.priority}
                  </span>{' '}
                  <span class="hint">({r.state === 'absent' ? 'not built' : r.state})</span>
                </h3>
                <p>{r.purpose}</p>
                <pre>
                  <code>{r.sql}</code>
                </pre>
                {r.evidence.length > 0 ? (
                  <ul>
                    {r.evidence.map((e) => (
                      <li>{e}</li>
                    ))}
                  </ul>
                ) : null}
                {r.patterns.length > 0 ? <p class="hint">Serves: {r.patterns.join(', ')}</p> : null}
                {mayApply && r.state !== 'exists' ? (
                  <p>
                    <a
                      class="button"
                      href={`/dashboard/reports/${report.id}/apply?index=${encodeURIComponent(r.name)}`}
                    >
                      Build {r.name}…
                    </a>
                  </p>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {applied.length > 0 ? (
        <section aria-labelledby="applied">
          <h2 id="applied">Built</h2>
          {applied.map((a) => (
            <article>
              <h3>
                <code>{a.name}</code> <Status status={a.status} />
              </h3>
              {a.error ? <p class="problem">{a.error}</p> : null}
              {a.conclusion ? <p>{a.conclusion}</p> : null}
              <table>
                <caption>p50 / p95 before and after</caption>
                <thead>
                  <tr>
                    <th scope="col">Query</th>
                    <th scope="col">Before</th>
                    <th scope="col">After</th>
                    <th scope="col">Verdict</th>
                  </tr>
                </thead>
                <tbody>
                  {a.patterns.map((p) => (
                    <tr>
                      <th scope="row">
                        <code>{p.query}</code>
                      </th>
                      <td class="num">{timing(p.before)}</td>
                      <td class="num">{timing(p.after)}</td>
                      <td>{p.verdict ? <Status status={p.verdict} /> : '–'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </article>
          ))}
        </section>
      ) : null}
      {flagged.length > 0 ? (
        <section aria-labelledby="flagged">
          <h2 id="flagged">Flagged indexes</h2>
          <ul>
            {flagged.map((i) => (
              <li>
                <code>{i.name}</code> on {i.table}: <Status status="warning" label={i.flags.join(', ')} />
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
