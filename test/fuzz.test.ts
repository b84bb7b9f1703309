import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportId } from '../src/reports/ids.js';
import { makeTestApp, type TestApp, type TokenName } from './support/app.js';
import { changedTables, tableChecksums } from './support/checksums.js';
import { databaseTargets, type TestDatabase } from './support/databases.js';
import { answerProblem, expectationOf, type AnswerRules } from './support/fuzz-oracle.js';
import {
  endpointsOf,
  requestsFor,
  send,
  type Caller,
  type Endpoint,
  type FuzzRequest,
} from './support/fuzz-requests.js';
import { seedV1 } from './support/seed.js';

/**
 * Requests generated from the published document, valid and hostile, sent to every endpoint:
 * never a 5xx; every refusal problem+json, a 400 naming each bad field; no table changed.
 * FUZZ_RUNS (runs for a cheap endpoint), FUZZ_SEED (a number, or `random`) and FUZZ_DRIVERS
 * scale it; `npm run test:chaos` runs it long with a random seed (docs/testing.md).
 */
const document = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'));

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED =
  process.env.FUZZ_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.FUZZ_SEED ?? 20_250_611);
const DRIVERS = (process.env.FUZZ_DRIVERS ?? 'pglite,pg').split(',');
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(SEED)) {
  throw new Error(`FUZZ_RUNS must be a positive integer and FUZZ_SEED an integer or "random"`);
}

const READERS: [Caller, number][] = [
  ['reader', 4],
  ['admin', 2],
  ['runner', 2],
  ['none', 1],
  ['junk', 1],
];
// No `apply` here: a valid body must never change data, so checksums stay meaningful.
const RUNNERS: [Caller, number][] = [
  ['runner', 12],
  ['reader', 1],
  ['none', 1],
  ['junk', 1],
];

interface Plan {
  /** Runs, as a share of FUZZ_RUNS: operations that run SQL cost more than a refusal. */
  share: number;
  /** The largest valid value of costly fields: each accepted benchmark runs for real. */
  cheap?: Record<string, number>;
  /** Fields a valid body may be refused on by a rule the schema cannot state (stated in prose). */
  proseRules?: string[];
}

const PLANS: Record<string, Plan> = {
  'POST /rollback': { share: 1, proseRules: ['planId'] }, // required for a run
  'POST /validate': { share: 0.5 },
  'POST /preflight': { share: 0.5 },
  'POST /restore': { share: 0.5, proseRules: ['rollbackReportId'] }, // must name a finished rollback run
  'POST /benchmark': {
    share: 0.75,
    cheap: { iterations: 2, warmup: 1 },
    // must name a benchmark report; no pattern twice; at most 5,000 statements in all (iterations × patterns)
    proseRules: ['baselineReportId', 'patterns', 'iterations'],
  },
  'POST /optimize': {
    share: 0.5,
    cheap: { iterations: 2, warmup: 1 },
    proseRules: ['indexes', 'views'], // no name twice
  },
  // MCP's own rules beyond JSON-RPC's shape: one initialize per batch, `params._meta` as MCP defines it.
  'POST /mcp': { share: 0.5, proseRules: ['(body)'] },
  'GET /openapi.json': { share: 0.2 },
  'GET /docs': { share: 0.2 },
};

const keyOf = (endpoint: Endpoint) => `${endpoint.method} ${endpoint.path}`;
const planOf = (endpoint: Endpoint): Plan => PLANS[keyOf(endpoint)] ?? { share: 1 };
const runsOf = (plan: Plan) => Math.max(1, Math.round(RUNS * plan.share));
/** Each property its own seed, all from FUZZ_SEED: one endpoint's failure replays alone. */
const seedOf = (name: string) => [...name].reduce((hash, c) => (Math.imul(hash, 31) + c.charCodeAt(0)) | 0, SEED);
const timeoutOf = (runs: number) => 60_000 + runs * 250;

/** The operations whose body takes `notify`: where it may point is configuration (the policy, NOTIFY_SECRET). */
const NOTIFY_PATHS = ['/migrate', '/validate', '/rollback', '/benchmark', '/optimize', '/preflight'];
/**
 * /rehearse and /restore take `notify` too; they are left out of the notify property, which asks
 * with `run` (/restore also names a rollback report first): they are fuzzed.
 */
const NOTIFY_RULE_PATHS = [...NOTIFY_PATHS, '/rehearse', '/restore'];

function rulesOf(endpoint: Endpoint): AnswerRules {
  const documented = Object.keys(endpoint.operation?.responses ?? { 200: {} }).map(Number);
  const notify = endpoint.method === 'POST' && NOTIFY_RULE_PATHS.includes(endpoint.path) ? ['notify'] : [];
  return { statuses: documented, proseRules: [...(planOf(endpoint).proseRules ?? []), ...notify] };
}

/** A notify URL the policy refuses without NOTIFY_ALLOW_PRIVATE: plain http, or a private, loopback or link-local host. */
const refusedNotify = fc
  .oneof(
    fc.webUrl({ validSchemes: ['http'] }),
    fc
      .oneof(
        fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)),
        fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255)),
        fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), fc.nat(255), fc.nat(255)),
        fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255)),
        fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255)),
      )
      .map((parts) => parts.join('.')),
    fc.constantFrom('[::1]', '[fe80::1]', '[fd12:3456::1]', '[::ffff:127.0.0.1]', 'localhost', 'db.internal', '0x7f.1'),
  )
  .map((host) => (host.startsWith('http') ? host : `https://${host}/hook`));

/**
 * Sends one request and throws, with the answer, when the answer breaks the document. A run
 * accepted with 202 is waited for: a server error in its stored report is a 5xx all the same.
 */
async function check(t: TestApp, request: FuzzRequest, rules: AnswerRules) {
  const response = await send(t, request);
  const location = response.headers.get('Location');
  const problem = await answerProblem(expectationOf(document, request), rules, response);
  if (problem) throw new Error(problem);
  if (response.status !== 202 || !location) return;
  await t.settle();
  const report = await t.store.get(location.replace('/reports/', '') as ReportId);
  if (report?.error && report.error.status >= 500) {
    throw new Error(`202, then the run's report ended with ${JSON.stringify(report.error)}`);
  }
}

const endpoints = endpointsOf(document);
const targets = databaseTargets().filter((target) => DRIVERS.includes(target.driver));

for (const target of targets) {
  describe(`fuzz from openapi/openapi.json [${target.driver}]`, () => {
    let database: TestDatabase;
    let t: TestApp;
    const known = { reportIds: [] as string[], planIds: [] as string[], benchmarkIds: [] as string[] };

    beforeAll(async () => {
      console.info(`fuzz [${target.driver}]: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);
      database = await target.open();
      await seedV1(database.db, { servers: 20, toolsPerServer: 3 });
      // The Slack door on, so its routes answer what they would in service: unsigned requests get 401.
      t = await makeTestApp(database.db, { slack: { signingSecret: 'fuzz-signing-secret', principals: [] } });
      // Half migrated, so dry runs of both migrate and rollback have work, and reports exist to name.
      const { rows } = await database.admin.query<{ id: string }>(
        `SELECT id::text FROM mcp_servers ORDER BY id LIMIT 10`,
      );
      const made = [
        await t.call('POST', '/migrate', { as: 'admin', body: { dryRun: false, serverIds: rows.map((r) => r.id) } }),
        await t.call('POST', '/benchmark', { as: 'runner', body: { iterations: 1, warmup: 0 } }),
        await t.call('POST', '/rollback', { as: 'runner' }),
      ];
      const reports = await Promise.all(
        made.map((r) => r.json() as Promise<{ id: string; kind: string; planId?: string }>),
      );
      expect(made.map((r) => r.status)).toEqual([200, 200, 200]);
      known.reportIds = reports.map((r) => r.id);
      known.benchmarkIds = reports.filter((r) => r.kind === 'benchmark').map((r) => r.id);
      known.planIds = reports.flatMap((r) => (r.planId ? [r.planId] : []));
    }, 120_000);

    afterAll(async () => {
      await t?.settle();
      await database?.dispose();
    });

    for (const endpoint of endpoints) {
      const plan = planOf(endpoint);
      const runs = runsOf(plan);
      it(
        `${keyOf(endpoint)} (${runs} requests): no 5xx, every refusal a problem naming its field, no table changed`,
        async () => {
          const before = await tableChecksums(database.admin);
          const requests = requestsFor(document, endpoint, {
            callers: endpoint.method === 'GET' ? READERS : RUNNERS,
            knownIds: known.reportIds,
            cheap: plan.cheap ?? {},
            known: {
              baselineReportId: [...known.benchmarkIds, ...known.reportIds],
              rollbackReportId: known.reportIds,
              planId: known.planIds,
            },
          });
          const rules = rulesOf(endpoint);
          await fc.assert(
            fc.asyncProperty(requests, (request) => check(t, request, rules)),
            { seed: seedOf(keyOf(endpoint)), numRuns: runs },
          );
          await t.settle();
          expect(changedTables(before, await tableChecksums(database.admin))).toEqual([]);
        },
        timeoutOf(runs),
      );
    }

    const changing = endpoints.filter((e) => ['/migrate', '/rollback', '/optimize', '/rehearse'].includes(e.path));
    const applyRuns = runsOf({ share: 1 });
    it(
      `with the apply scope, refuses every invalid body to ${changing.map(keyOf).join(', ')} (${applyRuns} requests) and changes nothing`,
      async () => {
        const before = await tableChecksums(database.admin);
        // Only requests the document refuses: a valid one would really migrate or roll back.
        const refused = (request: FuzzRequest) => {
          const expectation = expectationOf(document, request);
          return !expectation.rerouted && (expectation.invalid.length > 0 || (expectation.status ?? 0) >= 400);
        };
        const requests = fc.oneof(
          ...changing.map((endpoint) =>
            requestsFor(document, endpoint, {
              callers: [['admin', 1]],
              knownIds: known.reportIds,
              hostileOneIn: 3,
              keep: refused,
            }),
          ),
        );
        await fc.assert(
          fc.asyncProperty(requests, async (request) => {
            const response = await send(t, request);
            expect(response.status, `${request.method} ${request.endpoint.path} as admin`).toBeGreaterThanOrEqual(400);
            const problem = await answerProblem(expectationOf(document, request), rulesOf(request.endpoint), response);
            if (problem) throw new Error(problem);
          }),
          { seed: seedOf('apply'), numRuns: applyRuns },
        );
        await t.settle();
        expect(changedTables(before, await tableChecksums(database.admin))).toEqual([]);
      },
      timeoutOf(applyRuns),
    );

    const notifyRuns = runsOf({ share: 0.25 });
    it(
      `notify: refuses every URL the policy refuses with 400 naming notify, running nothing (${notifyRuns} requests)`,
      async () => {
        const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
        const strict = await makeTestApp(database.db, { deps: { notify: { allowPrivate: false, secret } } });
        const requests = fc.record({
          path: fc.constantFrom(...NOTIFY_PATHS),
          notify: refusedNotify,
          async: fc.boolean(),
        });
        await fc.assert(
          fc.asyncProperty(requests, async ({ path, notify, async }) => {
            const body =
              path === '/benchmark' || path === '/optimize' ? { iterations: 1, warmup: 0, notify } : { notify };
            const response = await strict.call('POST', path, {
              as: 'runner',
              body,
              headers: async ? { Prefer: 'respond-async' } : {},
            });
            expect(response.status, `${path} ${notify}`).toBe(400);
            const problem = (await response.json()) as { errors: { field: string }[] };
            expect(problem.errors.map((e) => e.field)).toEqual(['notify']);
          }),
          { seed: seedOf('notify'), numRuns: notifyRuns },
        );
        await strict.settle();
        expect((await strict.store.list({ limit: 1 })).items).toEqual([]);
      },
      timeoutOf(notifyRuns),
    );

    const otherRuns = runsOf({ share: 0.5 });
    it(
      `answers 404 problem+json to every method and path the document does not name (${otherRuns} requests)`,
      async () => {
        const concrete = endpoints.map((e) => e.path.replace('{id}', known.reportIds[0]!));
        const junk = [
          '/',
          '/MIGRATE',
          '/reports/x/y',
          '/%00',
          '/..%2f..%2fetc',
          '/docs/x',
          '/openapi.json/x',
          `/${'a'.repeat(5_000)}`,
        ];
        const isRoute = (method: string, path: string) =>
          endpoints.some(
            (e) => e.method === method && new RegExp(`^${e.path.replace(/\{\w+\}/g, '[^/]+')}/?$`).test(path),
          ) ||
          // Streamable HTTP's other methods, described under POST /mcp: 405, there being no stream and no session.
          (/^\/mcp\/?$/.test(path) && ['GET', 'DELETE'].includes(method));
        const requests = fc
          .record({
            method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
            path: fc.constantFrom(...concrete, ...junk),
            caller: fc.constantFrom<TokenName | null>('admin', 'runner', null),
          })
          .filter(({ method, path }) => !isRoute(method, path));
        await fc.assert(
          fc.asyncProperty(requests, async ({ method, path, caller }) => {
            const response = await t.call(method, path, { as: caller });
            const problem = await answerProblem(
              { status: 404, invalid: [], suspect: [] },
              { statuses: [404] },
              response,
            );
            if (problem) throw new Error(`${method} ${path}: ${problem}`);
          }),
          { seed: seedOf('not found'), numRuns: otherRuns },
        );
      },
      timeoutOf(otherRuns),
    );
  });
}
