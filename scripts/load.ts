/**
 * npm run load: the Node service under load on PostgreSQL (scripts/load/run.ts), its figures as
 * markdown tables; exits 1 when any rule was broken (a 5xx, a 429 to a lone read, two changing
 * runs, a request left unanswered, data not exact, a lease or a run left behind).
 *
 *   npm run load
 *   options: --servers 10000 --tools 10 --duration 60 (s) --connections 100 --users 40
 *            --changing-runs 20 --timeout 120 (s, for any one request)
 *            --rounds 1: the whole run again on a fresh database; the tables show the medians
 *            --json: every figure of every round as JSON too
 *            --server postgres://postgres@127.0.0.1:5432/postgres (or BENCH_DATABASE_URL)
 *
 * Its database (wl_...) and temporary folder are removed when it ends.
 */
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './load/run.js';
import { markdownTables } from './load/table.js';

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: '10000' },
    tools: { type: 'string', default: '10' },
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '100' },
    users: { type: 'string', default: '40' },
    'changing-runs': { type: 'string', default: '20' },
    timeout: { type: 'string', default: '120' },
    server: {
      type: 'string',
      default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const positive = (name: keyof typeof opts) => {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a positive integer, not ${String(opts[name])}`);
  return n;
};

/** Each message's first line once, ids blanked, with how often it came: stacks and repeats left out. */
function messages(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const line of lines.filter((l) => /^\S/.test(l) && !/^[}\]]/.test(l))) {
    const message = line.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID').slice(0, 300);
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts].map(([message, n]) => `  ${n} × ${message}`).join('\n');
}

const results: LoadResult[] = [];
for (let round = 1; round <= positive('rounds'); round++) {
  console.log(`round ${round} of ${opts.rounds}`);
  const result = await runLoad({
    serverUrl: opts.server,
    servers: positive('servers'),
    tools: positive('tools'),
    durationS: positive('duration'),
    connections: positive('connections'),
    users: positive('users'),
    changingRuns: positive('changing-runs'),
    timeoutS: positive('timeout'),
    log: (line) => console.log(`  ${line}`),
  });
  results.push(result);
  if (result.serviceErrors.length > 0)
    console.log(`  the services' stderr, by message:\n${messages(result.serviceErrors)}`);
}

console.log(`\n${markdownTables(results)}\n`);
if (opts.json) console.log(JSON.stringify(results, null, 2));
const violations = results.flatMap((r, i) => r.violations.map((v) => `round ${i + 1}: ${v}`));
if (violations.length > 0) {
  console.log(`FAILED: ${violations.length} broken rules:\n${violations.map((v) => `  - ${v}`).join('\n')}`);
  process.exit(1);
}
console.log(
  'ok: no 5xx, 429 only to a shared token, exactly one changing run each time, the data exact, the lease free.',
);
