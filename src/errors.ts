/**
 * The service's one error vocabulary. Operations and adapters raise a ServiceError of one of
 * these kinds; only the HTTP layer (src/http/problems.ts) decides what status and problem type
 * a kind answers with. Findings (a failed check, a skipped row) are never errors: they are
 * data in a report.
 */
export const ERROR_KINDS = [
  /** Another changing operation holds the database. */
  'lock-busy',
  /** A run's lease expired and another run took it over: the run stopped before writing again. */
  'lease-lost',
  /** A rollback's planId no longer matches the database. */
  'stale-plan',
  /** A migration's tables are partly present. */
  'schema-conflict',
  /** The v1 tables match neither of SARK's known shapes. */
  'unsupported-v1-schema',
  /** The database cannot be reached, or the connection was lost. */
  'database-unavailable',
  /** A statement outran its statement_timeout. */
  'statement-timeout',
  /** A lock was not granted within lock_timeout. */
  'lock-timeout',
  /** A deadlock or a serialization failure, still there after the retries. */
  'write-conflict',
  /** The database refused a value (SQLSTATE class 22: a NUL byte, text that does not parse). */
  'invalid-value',
  /** The database refused a row (SQLSTATE class 23: a unique, foreign or check constraint). */
  'constraint-violation',
  /** The run was cancelled, or the caller went away, and the operation stopped. */
  'cancelled',
  /** A cancel asked of a run that has already ended (or that no process runs any more). */
  'run-ended',
  /** A setting or the service's own schema is missing. */
  'not-configured',
  /** The report store (files, R2) does not take the run's report. */
  'store-unavailable',
  /** An exported object of the rollback archive is missing, or not what its report's checksum and row count say. */
  'archive-mismatch',
  /** The caller already has a read running: one at a time per actor. */
  'too-many-runs',
  /** The database refused a write: the service's role may not write there, or the server is read-only. */
  'read-only',
  /** A rehearsal's throwaway copy could not be made (other sessions on the source, the copy API refused). */
  'copy-refused',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class ServiceError extends Error {
  /** Facts a caller can act on (`missing` columns, the current planId, ...), shown beside the detail. */
  readonly facts: Record<string, unknown>;
  /** What the database said, word for word, where it said something: for a report about one statement. */
  readonly said: string | undefined;

  constructor(
    readonly kind: ErrorKind,
    detail: string,
    options: { facts?: Record<string, unknown>; cause?: unknown; said?: string } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.facts = options.facts ?? {};
    this.said = options.said;
  }
}

/** What the database said about a failed statement, else the error's own message. */
export function saidOf(error: unknown): string {
  if (isServiceError(error) && error.said !== undefined) return error.said;
  return error instanceof Error ? error.message : String(error);
}

export function isServiceError(error: unknown, ...kinds: ErrorKind[]): error is ServiceError {
  return error instanceof ServiceError && (kinds.length === 0 || kinds.includes(error.kind));
}

/**
 * Whether trying again may cure it: a lost connection, a lost race for a lock, or an error that
 * is not the service's own. A ServiceError of any other kind (cancelled, lease-lost, stale-plan)
 * is an answer, the same on every try.
 */
export const isTransient = (error: unknown): boolean =>
  !isServiceError(error) || isServiceError(error, 'database-unavailable', 'lock-timeout', 'write-conflict');

export const lockBusy = () =>
  new ServiceError('lock-busy', 'Another changing operation holds the database; retry when it has finished.');

export const databaseUnavailable = (cause?: unknown) =>
  new ServiceError('database-unavailable', 'The SARK database cannot be reached right now; retry later.', { cause });

/** Raised while reading configuration; the entry point decides whether to exit or to answer 503. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
