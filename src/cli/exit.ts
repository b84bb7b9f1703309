/**
 * The command line's exit codes (docs/cli.md): a CI step passes or fails on them alone.
 * 0, 1 and 2 are the report's own: a validation report's `exitCode`, or for other kinds 0 when
 * the run succeeded and 1 when it did not.
 */
export const EXIT = {
  /** The run ended well: a validation passed, an operation succeeded. */
  ok: 0,
  /** The report says no: a validation failed an error check, an operation failed, regressed or was cancelled. */
  failed: 1,
  /** A validation failed a critical check. */
  critical: 2,
  /** The service refused the request (a 4xx problem: bad input, token, scope, a run in the way, a stale plan). */
  refused: 3,
  /** The service could not be reached or could not do it (5xx, or a run that ended on one). */
  unavailable: 4,
  /** The command line itself was wrong (unknown command or option, no URL or token). */
  usage: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What the command line stops on: printed plainly, the process ending with its code. */
export class CliError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);
