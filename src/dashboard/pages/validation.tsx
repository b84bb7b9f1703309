/** @jsxImportSource hono/jsx */
import type { Report } from '../../reports/schemas.js';
import { SEVERITIES, type CheckResult } from '../../reports/validation.js';
import { Status } from '../layout.js';
import { ProgressBlock } from '../progress.js';

const EXIT_MEANING = ['every critical and error check passed', 'an error check failed', 'a critical check failed'];

/** Checks by severity, most severe first, the failed ones first in each; their offending ids. */
export function ValidationSection(props: { report: Report }) {
  const { report } = props;
  if (report.status === 'running') return <ProgressBlock report={report} />;
  const checks = (report.checks ?? []) as CheckResult[];
  const exitCode = report.exitCode as number | undefined;
  return (
    <>
      {exitCode !== undefined ? (
        <p class="exit">
          Exit code as CI sees it: <strong id="exit-code">{String(exitCode)}</strong> ({EXIT_MEANING[exitCode] ?? ''})
        </p>
      ) : null}
      {SEVERITIES.map((severity) => {
        const group = checks
          .filter((check) => check.severity === severity)
          .sort((a, b) => Number(a.passed) - Number(b.passed));
        if (group.length === 0) return null;
        const failed = group.filter((check) => !check.passed).length;
        return (
          <section aria-labelledby={`severity-${severity}`}>
            <h2 id={`severity-${severity}`}>
              {severity} ({failed} failed of {group.length})
            </h2>
            <ul class="checks">
              {group.map((check) => (
                <li class={check.passed ? 'check passed' : 'check failed'}>
                  <Status
                    status={
                      check.skipped
                        ? 'skipped'
                        : check.passed
                          ? 'passed'
                          : severity === 'warning' || severity === 'info'
                            ? 'warning'
                            : 'failed'
                    }
                    label={check.skipped ? 'skipped' : check.passed ? 'passed' : 'failed'}
                  />{' '}
                  <code>{check.name}</code>: {check.message}
                  {check.sample.length > 0 ? (
                    <>
                      <p class="hint">Offending ids:</p>
                      <ul class="ids">
                        {check.sample.map((id) => (
                          <li>
                            <code>{id}</code>
                          </li>
                        ))}
                      </ul>
                    </>
                  ) : null}
                  {Object.keys(check.details).length > 0 ? (
                    <details>
                      <summary>Details</summary>
                      <pre>{JSON.stringify(check.details, null, 2)}</pre>
                    </details>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </>
  );
}
