/**
 * Failures that become problem+json answers. Findings (a failed check, a skipped row) are
 * never errors: they are data in a report.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

/** The database cannot be reached: a connection was refused, dropped or timed out. */
export class DatabaseUnavailableError extends ProblemError {
  constructor(cause?: unknown) {
    super(
      503,
      'database-unavailable',
      'Database unavailable',
      'The SARK database cannot be reached right now; retry later.',
    );
    this.cause = cause;
  }
}

/** Another changing operation holds the advisory lock. */
export class LockBusyError extends ProblemError {
  constructor() {
    super(
      409,
      'operation-in-progress',
      'Another operation is running',
      'Another changing operation holds the database; retry when it has finished.',
    );
  }
}

export class NotFoundError extends ProblemError {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail);
  }
}

export class ServiceNotConfiguredError extends ProblemError {
  constructor(detail: string) {
    super(503, 'not-configured', 'Service not configured', detail);
  }
}

/** Raised while reading configuration; the entry point decides whether to exit. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
