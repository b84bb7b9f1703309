import type { Database, Queryable } from '../../adapters/db/types.js';
import { createAbsentTables, V2_MIGRATIONS } from '../../db/migrate.js';
import { isServiceError } from '../../errors.js';
import { mappingFor, type Mapping } from '../../mapping/mapping.js';
import { detectV1Shape } from '../../mapping/shape.js';
import type { MigrationEstimate } from '../../reports/preflight.js';
import { existingTables } from '../../sql/introspection.js';
import { copyBatchSql, nextBatchSql, planCountsSql } from '../../sql/migrate.js';
import type { V1Table, V2Table } from '../../sql/catalog.js';
import { analyzeSampleRowsSql, exactCountSql, tableSizesSql } from '../../sql/preflight.js';
import { analyzeSql } from '../../sql/catalog.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import { BATCH_LIMITS, streamsFor } from '../batches.js';
import { MIGRATE_DEFAULTS } from '../migrate.js';
import { NEON_PRICES_AS_OF, type NeonPricing } from './target.js';

/** Past this many rows (pg_class.reltuples) a table is not counted exactly: its estimate stands. */
export const EXACT_COUNT_MAX = 1_000_000;
export const EXACT_COUNT_MAX_BYTES = 256 * 1024 ** 2;
/** Servers (with their tools) a sample copies unless asked otherwise: /preflight's default, and /rehearse's. */
export const SAMPLE_SERVERS_DEFAULT = 2_000;
/** The sample is taken in this many keyset batches, spread over the id space: their rates give the interval. */
export const SUB_SAMPLES = 4;
/**
 * The high end: the slowest sub-sample's rate on one stream, by this much more for what a sample
 * cannot show: indexes growing with v2, a commit and a lease check per batch.
 */
export const HIGH_MARGIN = 1.5;
const GIB = 1024 ** 3;

export interface EstimateOptions {
  /** Servers the sample copies (with their tools); 0: no sample, no estimate. */
  sampleServers: number;
  /** Neon's prices, and where they came from; null: no cost estimate (not Neon). */
  pricing: (NeonPricing & { from: 'defaults' | 'configuration' | 'request' }) | null;
}

interface SubSample {
  resources: number;
  capabilities: number;
  ms: number;
}

/** What the rolled-back sample measured: everything the extrapolation needs. */
export interface SampleMeasure {
  servers: number;
  toCopy: NonNullable<MigrationEstimate['toCopy']>;
  schemaMs: number;
  subSamples: SubSample[];
  /** pg_total_relation_size of resources and capabilities before the sample (after creating them) and after it. */
  bytes: { resources: [number, number]; capabilities: [number, number] };
  /** Their size before anything (0: absent). */
  existingBytes: { resources: number; capabilities: number };
  /** ANALYZE of the two tables after the sample; null where they existed before (see measureSample). */
  analyzeMs: number | null;
  /** Rows ANALYZE reads per table at most. */
  analyzeRows: number;
}

/** Thrown to roll the sample's transaction back, carrying what it measured. */
class SampleDone extends Error {
  constructor(readonly measure: SampleMeasure) {
    super('sample rolled back');
  }
}

/** The uuid at fraction i/k of the id space: where sub-sample i starts (null: from the first id). */
function uuidAt(i: number, k: number): string | null {
  if (i === 0) return null;
  const hex = ((BigInt(i) << 128n) / BigInt(k)).toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A table's rows: counted exactly where that is cheap (pg_class.reltuples under EXACT_COUNT_MAX,
 * or, never analyzed, a heap under EXACT_COUNT_MAX_BYTES), else the planner's estimate.
 */
export async function rowsOf(
  tx: Queryable,
  table: V1Table | V2Table,
  size?: { exists: boolean; estimate: number | null; bytes: number | null },
): Promise<{ rows: number; counted: 'exact' | 'estimate' }> {
  const known = size ?? (await queryRows(tx, tableSizesSql([table])))[0];
  if (!known?.exists) return { rows: 0, counted: 'exact' };
  const estimate = known.estimate ?? -1;
  const cheap = estimate >= 0 ? estimate <= EXACT_COUNT_MAX : (known.bytes ?? 0) <= EXACT_COUNT_MAX_BYTES;
  if (!cheap) return { rows: Math.max(0, Math.round(estimate)), counted: 'estimate' };
  return { rows: (await queryOne(tx, exactCountSql(table))).n, counted: 'exact' };
}

async function bytesOf(tx: Queryable): Promise<{ resources: number; capabilities: number }> {
  const rows = await queryRows(tx, tableSizesSql(['resources', 'capabilities']));
  return { resources: rows[0]?.bytes ?? 0, capabilities: rows[1]?.bytes ?? 0 };
}

/** What a migration would copy: the v1 counts while v2 is empty, else a dry run's counts. */
async function toCopyOf(tx: Queryable, m: Mapping, v2Present: boolean): Promise<SampleMeasure['toCopy']> {
  const resources = v2Present ? await rowsOf(tx, 'resources') : { rows: 0 };
  if (resources.rows === 0) {
    const [servers, tools] = [await rowsOf(tx, 'mcp_servers'), await rowsOf(tx, 'mcp_tools')];
    const counted = servers.counted === 'exact' && tools.counted === 'exact' ? 'exact' : 'estimate';
    return { resources: servers.rows, capabilities: tools.rows, counted };
  }
  const c = await queryOne(tx, planCountsSql(m, { subset: null, v2Present: true, countPresent: true }));
  return {
    resources: c.servers_planned - c.servers_present - c.servers_skipped,
    capabilities: c.tools_planned - c.tools_present - c.tools_skipped,
    counted: 'dry-run',
  };
}

/**
 * In a transaction that is always rolled back: creates the v2 tables if absent (the migration's
 * own SQL), then copies SUB_SAMPLES keyset batches of servers with their tools through the very
 * statement /migrate runs (copyBatchSql), each timed, with the v2 tables' sizes around them.
 */
async function measureSample(db: Database, sampleServers: number): Promise<SampleMeasure> {
  try {
    await db.transaction(
      async (tx) => {
        const m = mappingFor(await detectV1Shape(tx));
        const v2Present = (await existingTables(tx, ['resources', 'capabilities'])).size === 2;
        const existingBytes = await bytesOf(tx);
        const toCopy = await toCopyOf(tx, m, v2Present);
        const servers = (await rowsOf(tx, 'mcp_servers')).rows;
        let started = performance.now();
        if (!v2Present) await createAbsentTables(tx, V2_MIGRATIONS);
        const schemaMs = v2Present ? 0 : performance.now() - started;
        const before = await bytesOf(tx);
        // A sample as large as the table walks it from the start; otherwise its batches start spread over the ids.
        const whole = servers <= sampleServers;
        const size = Math.max(1, Math.ceil((whole ? servers : sampleServers) / SUB_SAMPLES));
        const subSamples: SubSample[] = [];
        let after: string | null = null;
        for (let i = 0; i < SUB_SAMPLES; i++) {
          const lo: string | null = whole ? after : uuidAt(i, SUB_SAMPLES);
          const { hi, more }: { hi: string | null; more: boolean } = await queryOne(
            tx,
            nextBatchSql(m, { subset: null, after: lo, size }),
          );
          if (!more) break;
          started = performance.now();
          const copied = await queryOne(tx, copyBatchSql(m, { subset: null, lo, hi }));
          const ms = performance.now() - started;
          subSamples.push({ resources: copied.resources_copied, capabilities: copied.capabilities_copied, ms });
          if (whole && hi === null) break;
          after = hi;
        }
        const afterBytes = await bytesOf(tx);
        // The migration ends with ANALYZE. Timed here only on tables the sample created: ANALYZE
        // writes reltuples in place, which a rollback would not undo on tables that stay.
        let analyzeMs: number | null = null;
        if (!v2Present) {
          started = performance.now();
          await execute(tx, analyzeSql('resources'));
          await execute(tx, analyzeSql('capabilities'));
          analyzeMs = performance.now() - started;
        }
        const analyzeRows = (await queryOne(tx, analyzeSampleRowsSql())).n;
        throw new SampleDone({
          analyzeMs,
          analyzeRows,
          servers,
          toCopy,
          schemaMs,
          subSamples,
          bytes: {
            resources: [before.resources, afterBytes.resources],
            capabilities: [before.capabilities, afterBytes.capabilities],
          },
          existingBytes,
        });
      },
      {
        statementTimeoutMs: BATCH_LIMITS.statementTimeoutMs,
        lockTimeoutMs: BATCH_LIMITS.lockTimeoutMs,
        timeZone: 'UTC',
      },
    );
  } catch (error) {
    if (error instanceof SampleDone) return error.measure;
    throw error;
  }
  throw new Error('the sample transaction committed'); // unreachable: it always throws SampleDone
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The duration, v2 sizes and (Neon) cost of migrating, from a measured sample: pure, so that
 * /rehearse can put its real timings beside what it extrapolates from the same sample.
 */
export function extrapolate(
  measure: SampleMeasure,
  streams: number,
  pricing: EstimateOptions['pricing'],
): Omit<MigrationEstimate, 'method' | 'skipped'> {
  const { toCopy, subSamples, schemaMs } = measure;
  const rowsCopied = subSamples.reduce((n, s) => n + s.resources + s.capabilities, 0);
  const sample = {
    servers: sum(subSamples, 'resources'),
    rowsCopied,
    schemaMs: round(schemaMs),
    analyzeMs: measure.analyzeMs === null ? null : round(measure.analyzeMs),
    subSamples: subSamples.map((s) => ({ ...s, ms: round(s.ms) })),
    rolledBack: true as const,
  };
  const rows = toCopy.resources + toCopy.capabilities;
  const rates = subSamples
    .filter((s) => s.resources + s.capabilities > 0)
    .map((s) => s.ms / (s.resources + s.capabilities));
  if (rates.length === 0 && rows > 0)
    return { sample, toCopy, streams, durationMs: null, v2SizeBytes: null, cost: null };
  const mean = rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 0;
  const [fastest, slowest] = rates.length ? [Math.min(...rates), Math.max(...rates)] : [0, 0];
  const fixed = schemaMs + analyzeOf(measure);
  const durationMs = {
    expected: Math.round(fixed + mean * rows),
    low: Math.round(fixed + (fastest * rows) / streams),
    high: Math.round(fixed + slowest * rows * HIGH_MARGIN),
  };
  const growth = (table: 'resources' | 'capabilities', copied: number, toAdd: number) => {
    const [from, to] = measure.bytes[table];
    const before = measure.existingBytes[table];
    const added = copied > 0 ? Math.round(((to - from) / copied) * toAdd) : 0;
    // Created by the migration: the empty table's own pages come with it.
    const base = before === 0 ? from : before;
    return { before, added: base - before + added, after: base + added };
  };
  const resources = growth('resources', sum(subSamples, 'resources'), toCopy.resources);
  const capabilities = growth('capabilities', sum(subSamples, 'capabilities'), toCopy.capabilities);
  const v2SizeBytes = { resources, capabilities, totalAfter: resources.after + capabilities.after };
  return {
    sample,
    toCopy,
    streams,
    durationMs,
    v2SizeBytes,
    cost: pricing && costOf(durationMs, v2SizeBytes, pricing),
  };
}

/**
 * ANALYZE of the full tables, from the sample's: it reads up to analyzeRows rows per table, so
 * it grows with the rows until then and stays flat after.
 */
function analyzeOf({ analyzeMs, analyzeRows, subSamples, toCopy }: SampleMeasure): number {
  if (analyzeMs === null) return 0;
  const read = (r: number, c: number) => Math.min(r, analyzeRows) + Math.min(c, analyzeRows);
  const sampled = read(sum(subSamples, 'resources'), sum(subSamples, 'capabilities'));
  return sampled === 0 ? analyzeMs : (analyzeMs * read(toCopy.resources, toCopy.capabilities)) / sampled;
}

const sum = (s: SubSample[], key: 'resources' | 'capabilities') => s.reduce((n, x) => n + x[key], 0);

/** Compute hours (duration × CU) at the price per CU-hour, and the storage the v2 tables add, per month. */
export function costOf(
  durationMs: { expected: number; low: number; high: number },
  size: { resources: { added: number }; capabilities: { added: number } },
  pricing: NonNullable<EstimateOptions['pricing']>,
): NonNullable<MigrationEstimate['cost']> {
  const hours = (ms: number) => (ms / 3_600_000) * pricing.computeCu;
  const computeHours = {
    expected: hours(durationMs.expected),
    low: hours(durationMs.low),
    high: hours(durationMs.high),
  };
  const usd = (h: number) => h * pricing.cuHourUsd;
  const storageAddedGb = (size.resources.added + size.capabilities.added) / GIB;
  return {
    computeCu: pricing.computeCu,
    cuHourUsd: pricing.cuHourUsd,
    storageGbMonthUsd: pricing.storageGbMonthUsd,
    pricesFrom: pricing.from,
    pricesAsOf: NEON_PRICES_AS_OF,
    computeHours,
    computeUsd: { expected: usd(computeHours.expected), low: usd(computeHours.low), high: usd(computeHours.high) },
    storageAddedGb,
    storageUsdPerMonth: storageAddedGb * pricing.storageGbMonthUsd,
  };
}

/**
 * The migration's estimate: a timed sample, copied with /migrate's own statements in a
 * transaction that is rolled back, extrapolated to what a migration would copy. Changes no row
 * (when v2 already exists, the rolled-back inserts leave dead tuples for VACUUM, as any aborted
 * write does). /rehearse calls it to compare its real run with.
 */
export async function estimateMigration(db: Database, options: EstimateOptions): Promise<MigrationEstimate> {
  const streams = streamsFor(db, MIGRATE_DEFAULTS.parallelism);
  const none = (skipped: string): MigrationEstimate => ({
    method: 'none',
    skipped,
    sample: null,
    toCopy: null,
    streams,
    durationMs: null,
    v2SizeBytes: null,
    cost: null,
  });
  if (options.sampleServers === 0) return none('The request asked for no sample (sampleServers: 0).');
  let measure: SampleMeasure;
  try {
    measure = await measureSample(db, options.sampleServers);
  } catch (error) {
    if (isServiceError(error, 'unsupported-v1-schema')) return none(`No v1 to sample: ${error.message}`);
    if (isServiceError(error, 'lock-timeout') || isServiceError(error, 'statement-timeout'))
      return none(`The sample could not run: ${error.message} (see the activity checks).`);
    if (isServiceError(error, 'schema-conflict')) return none(`The sample could not create v2: ${error.message}`);
    throw error;
  }
  const result = extrapolate(measure, streams, options.pricing);
  return {
    method: `Copied ${result.sample!.servers} servers and their tools in ${measure.subSamples.length} timed batches with /migrate's batch statement, in a transaction then rolled back; the rate per row times the rows to copy: the mean on one stream (expected), the fastest over ${streams} stream${streams === 1 ? '' : 's'} (low), the slowest on one with a ${HIGH_MARGIN}× margin (high); plus the schema phase and ANALYZE, ${measure.analyzeMs === null ? 'not timed as v2 existed' : 'timed on the sample and scaled to the rows it reads'}. Sizes: the growth per row the sample measured.`,
    skipped: result.durationMs ? null : 'The sample found every row it took already in v2: no rate to extrapolate.',
    ...result,
  };
}
