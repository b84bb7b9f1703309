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
    case '22':
      throw new ServiceError('invalid-value', said, { facts, cause: error, said });
    case '23': {
      const constraint = (error as { constraint?: unknown }).constraint;
      throw new ServiceError('constraint-violation', said, {
        facts: { ...facts, ...(typeof constraint === 'string' ? { constraint } : {}) },
        cause: error,
        said,
      });
    }
  }
  throw error;
}
