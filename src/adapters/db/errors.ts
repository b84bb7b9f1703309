import { DatabaseUnavailableError } from '../../lib/errors.js';

// SQLSTATE classes meaning "this connection or server is not usable now", not "your SQL is wrong".
const UNAVAILABLE_SQLSTATES = /^(08|57P0[1-3]|53300|3D000|28)/;
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = /connection terminated|connection (lost|closed|refused)|timeout exceeded when trying to connect|websocket|network connection lost|client has encountered a connection error|socket hang up/i;

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
