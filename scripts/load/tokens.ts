/**
 * The callers of a load run, each a bearer token of its own (API_TOKENS keeps only the SHA-256):
 * many users with one connection each, one user with many connections, and two operators who
 * may change the database. The service allows one read per token at a time, so these decide
 * which validations run and which are answered 429.
 */
import { generateToken, sha256Hex } from '../../src/http/auth.js';

export interface LoadTokens {
  /** API_TOKENS for the service. */
  apiTokens: string;
  /** `read`, `run`: one per user. */
  users: string[];
  /** `read`, `run`: one user's token, shared by several connections. */
  oneUser: string;
  /** `read`, `run`, `apply`: for the changing runs. */
  operators: string[];
}

export async function loadTokens(users: number): Promise<LoadTokens> {
  const entries: { name: string; sha256: string; scopes: string[] }[] = [];
  const make = async (name: string, scopes: string[]) => {
    const token = generateToken();
    entries.push({ name, sha256: await sha256Hex(token), scopes });
    return token;
  };
  const userTokens: string[] = [];
  for (let i = 1; i <= users; i++) userTokens.push(await make(`user-${i}`, ['read', 'run']));
  const oneUser = await make('one-user', ['read', 'run']);
  const operators = [
    await make('operator-1', ['read', 'run', 'apply']),
    await make('operator-2', ['read', 'run', 'apply']),
  ];
  return { apiTokens: JSON.stringify(entries), users: userTokens, oneUser, operators };
}
