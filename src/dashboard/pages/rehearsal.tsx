/** @jsxImportSource hono/jsx */
import type { RehearsalReport } from '../../reports/rehearsal.js';
import type { Report } from '../../reports/schemas.js';
import { ProgressBlock } from '../progress.js';

/** A rehearsal: its copy, and each step with a link to its own report. */
export function RehearsalSection(props: { report: Report }) {
  const { report } = props;
  if (report.status === 'running') return <ProgressBlock report={report} />;
  const steps = (report.steps ?? []) as RehearsalReport['steps'];
  const copy = report.copy as RehearsalReport['copy'] | undefined;
  return (
    <>
      {copy ? (
        <p>
          Copy: {copy.method} <code>{copy.name}</code>, {copy.dropped ? 'dropped' : `kept: ${copy.reach ?? ''}`}
          {copy.dropError ? ` (not dropped: ${copy.dropError})` : ''}
        </p>
      ) : null}
      <ul class="checks">
        {steps.map((step) => (
          <li class={step.passed ? 'check passed' : 'check failed'}>
            <strong>{step.step}</strong>: {step.status}
            {step.reportId ? (
              <>
                {' '}
                (<a href={`/dashboard/reports/${step.reportId}`}>report</a>)
              </>
            ) : null}
            {step.error ? ` ${step.error.detail}` : ''}
          </li>
        ))}
      </ul>
    </>
  );
}
