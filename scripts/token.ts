/**
 * npm run token -- --name ci-bot --scopes read,run
 * Prints a new API token (shown once: store it in the client's secrets) and the entry to add
 * to API_TOKENS, which keeps only its SHA-256.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { generateToken, sha256Hex } from '../src/http/auth.js';
import { SCOPES, tokenEntrySchema } from '../src/http/scopes.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    scopes: { type: 'string', default: 'read,run' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.name) {
  console.error(`usage: npm run token -- --name NAME [--scopes ${SCOPES.join(',')}]   (default scopes: read,run)`);
  process.exit(values.help ? 0 : 2);
}

const token = generateToken();
const parsed = tokenEntrySchema.safeParse({
  name: values.name,
  sha256: await sha256Hex(token),
  scopes: values.scopes.split(',').map((s) => s.trim()),
});
if (!parsed.success) {
  console.error(`invalid token options: ${z.prettifyError(parsed.error)}`);
  process.exit(2);
}
console.log(`token (give it to "${parsed.data.name}"; it is not stored anywhere):\n  ${token}\n`);
console.log(`API_TOKENS entry (add it to the JSON array):\n  ${JSON.stringify(parsed.data)}`);
