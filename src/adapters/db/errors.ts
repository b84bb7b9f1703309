import { databaseUnavailable, isServiceError, ServiceError } from '../../errors.js';

/**
 * What a driver's error means, in the service's vocabulary (src/errors.ts). Every adapter
 * passes what its driver throws through translateDriverError; nothing above the adapters reads
 * a SQLSTATE or a socket error code.
 */

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

const sqlstateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/**
 * The server said it cannot serve (a SQLSTATE of those classes), or the connection itself
 * failed. An error with a SQLSTATE is judged by it alone: its message may quote row data.
 */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const sqlstate = sqlstateOf(error);
  if (sqlstate) return UNAVAILABLE_SQLSTATES.test(sqlstate);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return UNAVAILABLE_MESSAGES.test(error.message) || (error.cause !== undefined && isUnavailable(error.cause));
}

/** A driver's error as a ServiceError where it has a meaning; anything else (a bug: bad SQL) as it is. */
export function translateDriverError(error: unknown): never {
  if (isServiceError(error)) throw error;
  if (isUnavailable(error)) throw databaseUnavailable(error);
  const sqlstate = sqlstateOf(error);
  const facts = { sqlstate };
  const said = (error as Error).message;
  switch (sqlstate?.slice(0, 2)) {
    case '57':
      if (sqlstate === '57014') {
        throw new ServiceError(
          'statement-timeout',
          'A statement outran its statement_timeout and was cancelled; its transaction was rolled back. Retry with a smaller batchSize or when the database is less busy.',
          { facts, cause: error, said },
        );
      }
      break;
    case '55':
      if (sqlstate === '55P03') {
        throw new ServiceError(
          'lock-timeout',
          'A lock the operation needs stayed held by other sessions beyond lock_timeout; the waiting transaction was rolled back. Retry when the traffic is lighter.',
          { facts, cause: error, said },
        );
      }
      break;
    case '40':
      if (sqlstate === '40P01' || sqlstate === '40001') {
        throw new ServiceError(
          'write-conflict',
          'A transaction lost a deadlock or a serialization race with other sessions and was rolled back. Retry.',
          { facts, cause: error, said },
        );
      }
      break;
    case '42':
    case '25':
      if (sqlstate === '42501' || sqlstate === '25006') {
        throw new ServiceError(
          'read-only',
          sqlstate === '42501'
            ? "The database refused a write: the service's role lacks the privilege (SQLSTATE 42501). Changing operations need a role that owns SARK's tables."
            : 'The database refused a write: the server is read-only (a standby, or default_transaction_read_only; SQLSTATE 25006). Point DATABASE_URL at the primary.',
          { facts, said },
        );
      }
      break;
    case '22': {
      // PostgreSQL's words for a refused value quote it (`invalid input syntax for type uuid: "…"`):
      // the error carries its SQLSTATE and what that means, never the text or the driver's error.
      const meaning = `${DATA_EXCEPTIONS[sqlstate!] ?? 'the database refused a value'} (SQLSTATE ${sqlstate})`;
      throw new ServiceError('invalid-value', `${meaning[0]!.toUpperCase()}${meaning.slice(1)}.`, {
        facts,
        said: meaning,
      });
    }
    case '23': {
      // A constraint's message names the constraint and the table, not the row (the DETAIL line does: left out).
      const constraint = (error as { constraint?: unknown }).constraint;
      throw new ServiceError('constraint-violation', said, {
        facts: { ...facts, ...(typeof constraint === 'string' ? { constraint } : {}) },
        said,
      });
    }
  }
  throw error;
}

/** What the SQLSTATEs of class 22 (data exception) mean, without the value that caused them. */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22001': 'a value is too long for its column',
  '22003': 'a number is out of range for its column',
  '22007': 'a date or time does not parse',
  '22008': 'a date or time is out of range',
  '22012': 'a division by zero',
  '22021': 'a character is not valid in the database encoding',
  '22023': 'a parameter value is invalid',
  '22025': 'a LIKE pattern has an invalid escape',
  '2202E': 'an array subscript is out of range',
  '22004': 'a null value is not allowed',
  '22P02': 'a value does not parse as its type',
  '22P05': 'text holds a character PostgreSQL cannot store (NUL, or an unpaired surrogate)',
};
