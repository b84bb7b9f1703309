/**
 * npm run bench: the service's operations against the raw-SQL floor, side by side in one run,
 * on identical copies of one v1 database (CREATE DATABASE ... TEMPLATE).
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
 *   options: --servers 100000 --tools 10 --rounds 3 --ops migrate,validate,rollback,benchmark,optimize
 *            --iterations 20: timed runs per pattern (benchmark, optimize)
 *            --fast-iterations 400: timed runs per round of a pattern under 10 ms, in 20 pairs (benchmark)
 *            --slow-iterations 40: timed runs per round of a slower pattern, in 4 pairs (benchmark)
 *            --patterns a,b: only these of /benchmark's patterns (default: all)
 *            --sweep [--batch-sizes 1000,2000,5000,10000] [--parallelism 1,2,3]: try each pair once
 *            --runtime workers: migrate, validate and rollback also through the Worker (scripts/bench/workers.ts)
 *            --db-prefix sark_bench: the names of its databases; --drop-templates: drop the templates at the end
 *
 * The machine is shared and noisy: rounds alternate floor and service, and the figures to
 * quote are the medians and their ratio.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPgDatabase } from '../src/adapters/db/pg.js';
import type { Database } from '../src/adapters/db/types.js';
import { applyMigrations } from '../src/db/migrate.js';
import { createV1Schema, generateV1Data } from '../src/demo/generate.js';
import { mappingFor, projection } from '../src/mapping/mapping.js';
import { detectV1Shape } from '../src/mapping/shape.js';
import { MIGRATE_DEFAULTS, migrate } from '../src/operations/migrate.js';
import { ROLLBACK_DEFAULTS, rollback } from '../src/operations/rollback/index.js';
import { validate } from '../src/operations/validate.js';
import { medianInterval } from '../src/measure/stats.js';
import { PATTERN_NAMES, type PatternName } from '../src/sql/benchmark.js';
import { fieldComparisons } from '../src/sql/fidelity.js';
import { detachedContext } from '../src/operations/runner.js';
import { benchOptimize } from './bench/optimize.js';
import { benchPatterns } from './bench/patterns.js';
import { benchWorkers, WORKER_OPS } from './bench/workers.js';

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: '100000' },
    tools: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    sweep: { type: 'boolean', default: false },
    'batch-sizes': { type: 'string', default: '1000,2000,5000,10000' },
    parallelism: { type: 'string', default: '1,2,3' },
    ops: { type: 'string' },
    iterations: { type: 'string', default: '20' },
    'fast-iterations': { type: 'string', default: '400' },
    'slow-iterations': { type: 'string', default: '40' },
    patterns: { type: 'string' },
    runtime: { type: 'string', default: 'node' },
    'db-prefix': { type: 'string', default: 'sark_bench' },
    'drop-templates': { type: 'boolean', default: false },
  },
});
if (!['node', 'workers'].includes(opts.runtime)) throw new Error(`--runtime: node or workers, not ${opts.runtime}`);
const WORKERS = opts.runtime === 'workers';
const SERVERS = Number(opts.servers);
const TOOLS = Number(opts.tools);
const ROUNDS = Number(opts.rounds);
const serverUrl = process.env.BENCH_DATABASE_URL;
if (!serverUrl) {
  console.error('Set BENCH_DATABASE_URL to a PostgreSQL server URL (a superuser: the bench creates databases).');
  process.exit(2);
}

const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
const PREFIX = opts['db-prefix'];
if (!/^[a-z_][a-z0-9_]{0,20}$/.test(PREFIX))
  throw new Error(`--db-prefix: a short lowercase identifier, not ${PREFIX}`);
const TEMPLATE = `${PREFIX}_v1_${SERVERS}x${TOOLS}`;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The v1 database every run copies: built once, kept between bench runs. */
async function ensureTemplate(): Promise<void> {
  const exists = await admin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE])).rowCount === 1,
  );
  if (exists) return console.log(`using template ${TEMPLATE}`);
  console.log(`building template ${TEMPLATE}: ${SERVERS} servers × ${TOOLS} tools ...`);
  const started = performance.now();
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE}_building WITH (FORCE)`); // left by an interrupted build
    await c.query(`CREATE DATABASE ${TEMPLATE}_building`);
  });
  const db = createPgDatabase({ connectionString: urlOf(`${TEMPLATE}_building`) });
  try {
    await db.transaction(async (tx) => {
      await createV1Schema(tx, 'orm');
      await generateV1Data(tx, { servers: SERVERS, toolsPerServer: TOOLS, shape: 'orm' });
    });
    await db.withAdvisoryLock((session) => applyMigrations(session));
    await db.query('VACUUM ANALYZE');
  } finally {
    await db.close();
  }
  await admin((c) => c.query(`ALTER DATABASE ${TEMPLATE}_building RENAME TO ${TEMPLATE}`));
  console.log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The template migrated by the floor: what /rollback starts from. */
const MIGRATED = `${TEMPLATE}_migrated`;
async function ensureMigratedTemplate(): Promise<void> {
  const exists = await admin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [MIGRATED])).rowCount === 1,
  );
  if (exists) return;
  console.log(`building ${MIGRATED} ...`);
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${MIGRATED}_building WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${MIGRATED}_building TEMPLATE ${TEMPLATE}`);
  });
  const db = createPgDatabase({ connectionString: urlOf(`${MIGRATED}_building`) });
  try {
    await migrateFloor(db);
    await db.withAdvisoryLock((session) => applyMigrations(session)); // the archive tables
    await db.query('VACUUM ANALYZE');
  } finally {
    await db.close();
  }
  await admin((c) => c.query(`ALTER DATABASE ${MIGRATED}_building RENAME TO ${MIGRATED}`));
}

/** What v2 holds beside the migrated MCP rows: HTTP and gRPC resources, and 30 days of cost rows (one per 5 capabilities). */
const PATTERNS_EXTRA_DATA = `
WITH r AS (
  INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level)
  SELECT p || '-' || g, p || ' service ' || g, p, p || '://svc' || g, (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4]
    FROM generate_series(1, 1000) g, unnest(ARRAY['http', 'grpc']) p
  RETURNING id, protocol)
INSERT INTO capabilities (id, resource_id, name, sensitivity_level, input_schema)
SELECT r.id || '-op' || k, r.id, 'op_' || k, (ARRAY['low', 'medium', 'high', 'critical'])[1 + k % 4], jsonb_build_object('type', 'object')
  FROM r, generate_series(1, 5) k;
INSERT INTO cost_tracking (timestamp, principal_id, resource_id, capability_id, estimated_cost, actual_cost)
SELECT now() - (random() * interval '30 days'), 'principal-' || (c.n % 500), c.resource_id, c.id, 0.01, (random() * 0.1)::numeric(10,4)
  FROM (SELECT id, resource_id, row_number() OVER () AS n FROM capabilities) c WHERE c.n % 5 = 0`;

/**
 * The /benchmark comparison's database turns synchronized scans off for every session, the
 * service's and pgbench's alike: with them, a seq scan under a LIMIT starts where the previous
 * scan of the table stopped, so each side's cost depended on how far the other had moved the
 * start (search_resources_by_metadata measured 0.56× to 1.23× from one run to the next).
 */
const COMPARISON_SETTINGS = ['synchronize_seqscans = off'];

/** A fresh copy of a template for one timed run, dropped afterwards; `settings` apply to every session of it. */
async function withCopy<T>(
  label: string,
  work: (db: Database, url: string) => Promise<T>,
  template = TEMPLATE,
  settings: readonly string[] = [],
): Promise<T> {
  const name = `${PREFIX}_run_${label}_${Date.now().toString(36)}`;
  await admin(async (c) => {
    await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    for (const setting of settings) await c.query(`ALTER DATABASE ${name} SET ${setting}`);
    await c.query('CHECKPOINT'); // start every run with the same clean buffers
  });
  const db = createPgDatabase({ connectionString: urlOf(name), max: 8 });
  try {
    return await work(db, urlOf(name));
  } finally {
    await db.close();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** The floor: one INSERT ... SELECT per table with the same mapping, on one connection. */
async function migrateFloor(db: Database): Promise<number> {
  const m = mappingFor(await detectV1Shape(db));
  const r = projection(m.servers);
  const c = projection(m.tools);
  return timed(async () => {
    await db.query(
      `INSERT INTO ${m.servers.v2Table} (${r.columns.join(', ')}) SELECT ${r.expressions.join(', ')} FROM ${m.servers.v1Table} s WHERE ${m.serverCopyable}`,
    );
    await db.query(
      `INSERT INTO ${m.tools.v2Table} (${c.columns.join(', ')}) SELECT ${c.expressions.join(', ')} FROM ${m.tools.v1Table} t JOIN ${m.servers.v1Table} s ON s.id = ${m.toolParent.v1} WHERE ${m.serverCopyable}`,
    );
  });
}

/** The service's migration; without a batch size, adaptive (the default), its sizes logged. */
async function migrateService(db: Database, batchSize: number | undefined, parallelism: number): Promise<number> {
  return timed(async () => {
    const outcome = await migrate(db, { dryRun: false, batchSize, parallelism }, detachedContext());
    const summary = outcome.summary as { copied: number };
    if (summary.copied !== SERVERS * (TOOLS + 1))
      throw new Error(`copied ${summary.copied} rows, expected ${SERVERS * (TOOLS + 1)}`);
    if (batchSize === undefined) console.log(`  batches: ${JSON.stringify(outcome.batches)}`);
  });
}

/** The floor: one statement per table comparing every mapped field of every row (full outer join on id). */
async function validateFloor(db: Database): Promise<number> {
  const m = mappingFor(await detectV1Shape(db));
  return timed(async () => {
    for (const t of [m.servers, m.tools]) {
      const same = fieldComparisons(t, m.shape)
        .map((c) => c.equal)
        .join(' AND ');
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${t.v1Table} ${t.alias} FULL JOIN ${t.v2Table} r ON r.${t.id.v2} = ${t.columns[t.id.v2]} WHERE r.${t.id.v2} IS NULL OR ${t.id.v1} IS NULL OR NOT (${same})`,
      );
      if (rows[0]!.n !== 0) throw new Error(`the floor found ${rows[0]!.n} differences in ${t.v2Table}`);
    }
  });
}

async function validateService(db: Database): Promise<number> {
  return timed(async () => {
    const outcome = await validate(db, { mode: 'full', sampleSize: 10 }, detachedContext());
    if (outcome.status !== 'passed')
      throw new Error(`validation ${outcome.status}: ${JSON.stringify(outcome.summary)}`);
  });
}

/** The floor: one cascading DELETE of the MCP resources. */
const rollbackFloor = (db: Database) => timed(() => db.query(`DELETE FROM resources WHERE protocol = 'mcp'`));

/**
 * The service's rollback, timed. With `reviewed`, as the API runs one (a run requires the planId
 * of a dry run): the dry run untimed, then the timed run checks the plan before its batches.
 */
async function rollbackService(db: Database, reviewed = false): Promise<number> {
  const request = { backportChanges: false, ...ROLLBACK_DEFAULTS };
  const planId = reviewed
    ? ((await rollback(db, { ...request, dryRun: true }, detachedContext())) as { planId: string }).planId
    : undefined;
  return timed(async () => {
    const outcome = await rollback(db, { ...request, dryRun: false, planId }, detachedContext());
    if ((outcome.summary as { removed: number }).removed !== SERVERS * (TOOLS + 1))
      throw new Error(`rollback removed ${JSON.stringify(outcome.summary)}`);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (s: number) => `${s.toFixed(1)} s`;

async function sweep(): Promise<void> {
  console.log('\nsweep: one run each, service time over the floor measured just before it');
  console.log('| batch size | parallelism | service | floor | ratio |\n|---:|---:|---:|---:|---:|');
  const list = (csv: string) => csv.split(',').map(Number);
  for (const batchSize of list(opts['batch-sizes'])) {
    for (const parallelism of list(opts.parallelism)) {
      const floor = await withCopy('floor', (db) => migrateFloor(db));
      const service = await withCopy('svc', (db) => migrateService(db, batchSize, parallelism));
      console.log(
        `| ${batchSize} | ${parallelism} | ${fmt(service)} | ${fmt(floor)} | ${(service / floor).toFixed(2)}× |`,
      );
    }
  }
}

async function main(): Promise<void> {
  await ensureTemplate();
  if (opts.sweep) return sweep();

  const floors: number[] = [];
  const services: number[] = [];
  const rss: number[] = [];
  const { parallelism } = MIGRATE_DEFAULTS;
  const asked = (opts.ops ?? (WORKERS ? WORKER_OPS.join(',') : 'migrate,validate,rollback,benchmark,optimize')).split(
    ',',
  );
  // With --runtime workers, the Workers bench takes migrate, validate and rollback; the rest run as they do without it.
  const workerOps = WORKERS ? WORKER_OPS.filter((op) => asked.includes(op)) : [];
  const ops = asked.filter((op) => !(workerOps as string[]).includes(op));
  if (workerOps.length > 0)
    await benchWorkers({
      ops: workerOps,
      rounds: ROUNDS,
      servers: SERVERS,
      tools: TOOLS,
      withCopy,
      migratedTemplate: async () => {
        await ensureMigratedTemplate();
        return MIGRATED;
      },
      floor: { migrate: migrateFloor, validate: validateFloor, rollback: rollbackFloor },
      node: {
        migrate: (db) => migrateService(db, undefined, parallelism),
        validate: validateService,
        // Like the Worker's: on the planId of a dry run, as the API requires.
        rollback: (db) => rollbackService(db, true),
      },
    });
  for (let round = 1; ops.includes('migrate') && round <= ROUNDS; round++) {
    floors.push(await withCopy('floor', (db) => migrateFloor(db)));
    // Peak resident memory during the run, sampled: it must not grow with the table size.
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    services.push(await withCopy('svc', (db) => migrateService(db, undefined, parallelism)));
    clearInterval(sampler);
    rss.push(peak - before);
    console.log(`round ${round}: floor ${fmt(floors.at(-1)!)}, service ${fmt(services.at(-1)!)}`);
  }
  if (ops.includes('migrate'))
    console.log(
      `\n/migrate, ${SERVERS.toLocaleString('en')} servers × ${TOOLS} tools, ${ROUNDS} rounds (medians; adaptive batches, parallelism ${parallelism})`,
    );
  if (ops.includes('migrate'))
    console.log(`service process peak RSS growth during a run: median ${(median(rss) / 1024 / 1024).toFixed(1)} MB`);

  // /validate reads only: every round runs on one migrated copy, floor and service in turn.
  const validateFloors: number[] = [];
  const validateServices: number[] = [];
  if (ops.includes('validate'))
    await withCopy('validate', async (db) => {
      await migrateFloor(db);
      await db.query('VACUUM ANALYZE');
      for (let round = 1; round <= ROUNDS; round++) {
        validateFloors.push(await validateFloor(db));
        validateServices.push(await validateService(db));
        console.log(
          `validate round ${round}: floor ${fmt(validateFloors.at(-1)!)}, service ${fmt(validateServices.at(-1)!)}`,
        );
      }
    });
  // /rollback: every round on fresh copies of the migrated template; the floor is one cascading DELETE.
  // Floor and service run back to back, taking turns at going first: each round is a pair, and the
  // ratio quoted is the median of the pairs' (this machine's speed drifts between rounds).
  const rollbackFloors: number[] = [];
  const rollbackServices: number[] = [];
  if (ops.includes('rollback')) {
    await ensureMigratedTemplate();
    const floorRun = () => withCopy('rbfloor', rollbackFloor, MIGRATED);
    const serviceRun = () => withCopy('rbsvc', (db) => rollbackService(db), MIGRATED);
    for (let round = 1; round <= ROUNDS; round++) {
      if (round % 2 === 1) {
        rollbackFloors.push(await floorRun());
        rollbackServices.push(await serviceRun());
      } else {
        rollbackServices.push(await serviceRun());
        rollbackFloors.push(await floorRun());
      }
      console.log(
        `rollback round ${round}: floor ${fmt(rollbackFloors.at(-1)!)}, service ${fmt(rollbackServices.at(-1)!)} (${(rollbackServices.at(-1)! / rollbackFloors.at(-1)!).toFixed(2)}×)`,
      );
    }
    const ratio = medianInterval(rollbackServices.map((s, i) => s / rollbackFloors[i]!));
    console.log(
      `\n/rollback, ${SERVERS.toLocaleString('en')} servers × ${TOOLS} tools, ${ROUNDS} rounds (adaptive batches, parallelism ${ROLLBACK_DEFAULTS.parallelism}): median of the rounds' ratios ${ratio.median.toFixed(2)}× (95% interval ${ratio.low.toFixed(2)}–${ratio.high.toFixed(2)})`,
    );
  }
  const patterns = opts.patterns?.split(',').map((name) => {
    if (!(PATTERN_NAMES as readonly string[]).includes(name))
      throw new Error(`--patterns: no pattern ${name} (${PATTERN_NAMES.join(', ')})`);
    return name as PatternName;
  });
  // /benchmark: on a migrated copy with other protocols and cost rows, beside pgbench.
  if (ops.includes('benchmark')) {
    await ensureMigratedTemplate();
    await withCopy(
      'patterns',
      async (db, url) => {
        await db.query(PATTERNS_EXTRA_DATA);
        await db.query('VACUUM ANALYZE');
        await benchPatterns(db, url, {
          rounds: ROUNDS,
          iterations: Number(opts['slow-iterations']),
          fastIterations: Number(opts['fast-iterations']),
          warmup: 3,
          patterns,
        });
      },
      MIGRATED,
      COMPARISON_SETTINGS,
    );
  }
  // /optimize: on another such copy (it builds indexes), with HypoPG.
  if (ops.includes('optimize')) {
    await ensureMigratedTemplate();
    await withCopy(
      'optimize',
      async (db, url) => {
        await db.query(PATTERNS_EXTRA_DATA);
        await db.query('VACUUM ANALYZE');
        await benchOptimize(db, url, { iterations: Number(opts.iterations) });
      },
      MIGRATED,
    );
  }
  if (['migrate', 'rollback', 'validate'].some((op) => ops.includes(op)))
    console.log(`\n| operation | floor (raw SQL) | service | ratio |\n|---|---:|---:|---:|`);
  if (ops.includes('migrate'))
    console.log(
      `| migrate | ${fmt(median(floors))} | ${fmt(median(services))} | ${(median(services) / median(floors)).toFixed(2)}× |`,
    );
  if (ops.includes('rollback'))
    console.log(
      `| rollback (archive included) | ${fmt(median(rollbackFloors))} | ${fmt(median(rollbackServices))} | ${(median(rollbackServices) / median(rollbackFloors)).toFixed(2)}× |`,
    );
  if (ops.includes('validate'))
    console.log(
      `| validate (full) | ${fmt(median(validateFloors))} | ${fmt(median(validateServices))} | ${(median(validateServices) / median(validateFloors)).toFixed(2)}× |`,
    );
}

/** --drop-templates: the templates go too, so the bench leaves no database behind. */
async function dropTemplates(): Promise<void> {
  if (!opts['drop-templates']) return;
  for (const name of [MIGRATED, TEMPLATE]) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

main()
  .finally(dropTemplates)
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
