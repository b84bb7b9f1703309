import { DatabaseUnavailableError, ProblemError } from '../../lib/errors.js';

// SQLSTATE classes meaning "this connection or server is not usable now", not "your SQL is wrong".
const UNAVAILABLE_SQLSTATES = /^(08|57P0[1-3]|53300|3D000|28)/;
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);
const UNAVAILABLE_MESSAGES =
  /connection terminated|connection (lost|closed|refused)|timeout exceeded when trying to connect|websocket|network connection lost|client has encountered a connection error|socket hang up/i;

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.test(code) || UNAVAILABLE_NODE_CODES.has(code))) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return UNAVAILABLE_MESSAGES.test(error.message) || (error.cause !== undefined && isUnavailable(error.cause));
}

/** Rethrows connection-level failures as DatabaseUnavailableError and everything else as is. */
export function translateDriverError(error: unknown): never {
  if (error instanceof DatabaseUnavailableError) throw error;
  if (isUnavailable(error)) throw new DatabaseUnavailableError(error);
  throw error;
}

/**
 * The problem a database failure means for the client: an outage (503), a statement
 * cancelled by its statement_timeout (503), or a lock not granted within lock_timeout (409).
 * Undefined for anything else, which is a bug to log.
 */
export function databaseProblem(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === '57014') {
    return new ProblemError(
      503,
      'statement-timeout',
      'Statement timeout',
      'A statement outran its statement_timeout and was cancelled; its transaction was rolled back. Retry with a smaller batchSize or when the database is less busy.',
    );
  }
  if (code === '55P03') {
    return new ProblemError(
      409,
      'lock-timeout',
      'Lock timeout',
      'A lock the operation needs stayed held by other sessions beyond lock_timeout; the waiting transaction was rolled back. Retry when the traffic is lighter.',
    );
  }
  if (isUnavailable(error)) return new DatabaseUnavailableError(error);
  return undefined;
}
