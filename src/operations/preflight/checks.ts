import type { Queryable, Row } from '../../adapters/db/types.js';
import { isServiceError } from '../../errors.js';
import type { CheckResult, Severity } from '../../reports/validation.js';
import type { PreflightReport, V2State } from '../../reports/preflight.js';
import {
  checkSavepointSql,
  configuredStatementTimeoutSql,
  connectionSlotsSql,
  extensionsSql,
  longTransactionsSql,
  replicationSlotsSql,
  sessionTimeoutsSql,
  tableLocksSql,
  tableStatsSql,
} from '../../sql/preflight.js';
import { execute, queryRows, type Sql } from '../../sql/sql.js';
import { BATCH_LIMITS } from '../batches.js';
import { be, count } from '../text.js';
import { isPoolerHost, type DatabaseTarget } from './target.js';

/** What the checks read once, in the snapshot, before they run. */
export interface Facts {
  tx: Queryable;
  driver: 'pg' | 'neon' | 'pglite';
  version: { version: string; num: number } | null;
  v1Problem: string | null;
  v1Shape: 'orm' | 'migration' | null;
  v2: { state: V2State; detail: string; migrations: { tag: string; outcome: string }[] };
  tables: PreflightReport['tables'];
  target: DatabaseTarget | undefined;
  longTransactionSeconds: number;
}

/** The oldest server the SQL is written for: PostgreSQL 14 (Neon's oldest). */
export const MIN_SERVER_VERSION_NUM = 140_000;
/** Connections a migration needs at once: its batches (2 streams), the lease, the ledger, a reader. */
export const CONNECTIONS_NEEDED = 5;
/** Dead tuples past this share of the live ones (and at least DEAD_TUPLES_MIN) make a table worth a VACUUM first. */
export const DEAD_TUPLES_SHARE = 0.2;
export const DEAD_TUPLES_MIN = 1_000;
/** A replication slot holding back more WAL than this is a risk while the migration writes. */
export const SLOT_LAG_MAX_BYTES = 1024 ** 3;
/** Lock modes that conflict with what a migration takes (ACCESS SHARE on v1, ROW EXCLUSIVE on v2). */
export const BLOCKING_MODES = ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'];

type Outcome = Omit<CheckResult, 'name' | 'severity'>;
const outcome = (passed: boolean, message: string, details: Record<string, unknown> = {}, sample: string[] = []) => ({
  passed,
  message,
  details,
  sample,
});

/** Skipped: the check could not look (the server refused its catalogue read). Severity info. */
class CouldNotLook extends Error {}

/** Rows of a catalogue read under a savepoint: a read the server refuses (PGlite, a role without rights) skips the check and leaves the snapshot usable. */
async function readCatalogue<R extends Row>(tx: Queryable, statement: Sql<R>): Promise<R[]> {
  await execute(tx, checkSavepointSql('set'));
  try {
    const rows = await queryRows(tx, statement);
    await execute(tx, checkSavepointSql('release'));
    return rows;
  } catch (error) {
    // A timeout is the snapshot's business (it may be its age): the operation's error, not a skip.
    if (isServiceError(error, 'statement-timeout', 'database-unavailable')) throw error;
    await execute(tx, checkSavepointSql('rollback to'));
    await execute(tx, checkSavepointSql('release'));
    throw new CouldNotLook(error instanceof Error ? error.message : String(error));
  }
}

interface CheckDefinition {
  name: string;
  severity: Severity;
  run(f: Facts): Promise<Outcome>;
}

const v1v2Tables = (f: Facts) => f.tables.filter((t) => t.exists).map((t) => t.table);
/** A duration setting as ALTER … SET stores it ('1s', '5min', '1000'): milliseconds; null: not understood. */
export function gucMs(value: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value.replace(/^'|'$/g, ''));
  if (!match) return null;
  const factor = { us: 0.001, ms: 1, s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Number(match[1]) * factor;
}
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export const CHECKS: CheckDefinition[] = [
  {
    name: 'server.version',
    severity: 'error',
    async run({ version }) {
      if (!version) throw new CouldNotLook('server_version could not be read');
      const passed = version.num >= MIN_SERVER_VERSION_NUM;
      return outcome(
        passed,
        passed
          ? `PostgreSQL ${version.version}: the migration's SQL runs on 14 and later.`
          : `PostgreSQL ${version.version} is older than 14, which the migration's SQL needs.`,
        { ...version },
      );
    },
  },
  {
    name: 'server.extension_hypopg',
    severity: 'info',
    async run({ tx }) {
      const [row] = await readCatalogue(tx, extensionsSql(['hypopg']));
      const passed = Boolean(row?.installed ?? row?.available);
      return outcome(
        passed,
        row?.installed
          ? `HypoPG ${row.installed} is installed: /optimize plan weighs indexes without building them.`
          : row?.available
            ? `HypoPG ${row.available} is available (CREATE EXTENSION hypopg): /optimize plan can use it.`
            : 'HypoPG is not available: /optimize plan falls back to measured builds.',
        { installed: row?.installed ?? null, available: row?.available ?? null },
      );
    },
  },
  {
    name: 'server.extension_pg_stat_statements',
    severity: 'info',
    async run({ tx }) {
      const [row] = await readCatalogue(tx, extensionsSql(['pg_stat_statements']));
      return outcome(
        Boolean(row?.installed),
        row?.installed
          ? `pg_stat_statements ${row.installed} is installed: the workload on v2 can be read from it.`
          : `pg_stat_statements is not installed${row?.available ? ' (available: CREATE EXTENSION pg_stat_statements)' : ''}.`,
        { installed: row?.installed ?? null, available: row?.available ?? null },
      );
    },
  },
  {
    name: 'v1.shape_recognized',
    severity: 'critical',
    async run({ v1Shape, v1Problem }) {
      return v1Shape
        ? outcome(true, `The v1 tables have SARK's ${v1Shape} shape: /migrate maps them.`, { shape: v1Shape })
        : outcome(false, `No v1 schema /migrate can map: ${v1Problem}`, { shape: null });
    },
  },
  {
    name: 'v2.state',
    severity: 'critical',
    async run({ v2, tables }) {
      const rows = (name: string) => tables.find((t) => t.table === name)?.rows ?? 0;
      const held = rows('resources') + rows('capabilities');
      const messages: Record<V2State, string> = {
        absent: 'The v2 tables are absent: /migrate creates them.',
        adoptable: 'The v2 tables exist (SARK made them) and /migrate adopts them as they are.',
        present: '/migrate made or adopted the v2 tables already.',
        conflict: `Some v2 tables exist and others do not: ${v2.detail}`,
      };
      return outcome(
        v2.state !== 'conflict',
        `${messages[v2.state]}${held > 0 ? ` They hold ${count(held, 'row')}; a migration copies only what is missing.` : ''}`,
        { state: v2.state, migrations: v2.migrations, rows: held },
      );
    },
  },
  {
    name: 'tables.sizes',
    severity: 'info',
    async run({ tables }) {
      const present = tables.filter((t) => t.exists);
      const bytes = present.reduce((n, t) => n + (t.bytes ?? 0), 0);
      const estimated = present.filter((t) => t.counted === 'estimate').map((t) => t.table);
      return outcome(
        present.length > 0,
        `${count(present.length, 'table')} of SARK's: ${present.map((t) => `${t.table} ${t.rows} rows, ${mib(t.bytes ?? 0)}`).join('; ')}${estimated.length ? ` (estimated: ${estimated.join(', ')})` : ''}.`,
        { totalBytes: bytes, tables: present },
      );
    },
  },
  {
    name: 'activity.long_transactions',
    severity: 'error',
    async run({ tx, longTransactionSeconds }) {
      const rows = await readCatalogue(tx, longTransactionsSql(longTransactionSeconds));
      return rows.length === 0
        ? outcome(
            true,
            `No other session of this database has a transaction open longer than ${longTransactionSeconds} s.`,
            {
              thresholdSeconds: longTransactionSeconds,
            },
          )
        : outcome(
            false,
            `${count(rows.length, 'session')} ${be(rows.length, 'has', 'have')} a transaction open longer than ${longTransactionSeconds} s (the oldest ${Math.round(rows[0]!.seconds)} s, pid ${rows[0]!.pid}, ${rows[0]!.state ?? 'unknown state'}): it holds back VACUUM and may hold locks the migration waits for. End it (pg_terminate_backend) or wait.`,
            { thresholdSeconds: longTransactionSeconds, sessions: rows },
            rows.map((r) => String(r.pid)),
          );
    },
  },
  {
    name: 'activity.table_locks',
    severity: 'error',
    async run(f) {
      const rows = await readCatalogue(f.tx, tableLocksSql(v1v2Tables(f)));
      const blocking = rows.filter((r) => BLOCKING_MODES.includes(r.mode));
      if (blocking.length === 0)
        return outcome(
          true,
          rows.length === 0
            ? "No other session holds a lock on SARK's v1 or v2 tables."
            : `Other sessions hold only locks a migration can share (${[...new Set(rows.map((r) => r.mode))].join(', ')}).`,
          { locks: rows },
        );
      return outcome(
        false,
        `Other sessions hold locks a migration would wait for: ${blocking.map((r) => `${r.mode} on ${r.table} (pid ${r.pid}${r.granted ? '' : ', waiting'})`).join('; ')}.`,
        { locks: rows, blocking },
        [...new Set(blocking.map((r) => String(r.pid)))],
      );
    },
  },
  {
    name: 'replication.slots',
    severity: 'warning',
    async run({ tx }) {
      const slots = await readCatalogue(tx, replicationSlotsSql());
      const lagging = slots.filter(
        (s) => !s.active || (s.lag_bytes ?? 0) > SLOT_LAG_MAX_BYTES || s.wal_status === 'lost',
      );
      if (slots.length === 0)
        return outcome(true, "No replication slot: the migration's WAL holds nothing back.", { slots });
      return lagging.length === 0
        ? outcome(
            true,
            `${count(slots.length, 'replication slot')}, all active and within ${mib(SLOT_LAG_MAX_BYTES)} of WAL.`,
            {
              slots,
            },
          )
        : outcome(
            false,
            `${count(lagging.length, 'replication slot')} ${be(lagging.length, 'is', 'are')} inactive or behind: ${lagging.map((s) => `${s.slot} (${s.active ? 'active' : 'inactive'}, ${mib(s.lag_bytes ?? 0)} behind)`).join('; ')}. The migration's WAL accumulates for ${be(lagging.length, 'it', 'them')}.`,
            { slots, maxLagBytes: SLOT_LAG_MAX_BYTES },
            lagging.map((s) => s.slot),
          );
    },
  },
  {
    name: 'maintenance.dead_tuples',
    severity: 'warning',
    async run(f) {
      const stats = await readCatalogue(f.tx, tableStatsSql(v1v2Tables(f)));
      const bloated = stats.filter((s) => s.dead >= DEAD_TUPLES_MIN && s.dead > s.live * DEAD_TUPLES_SHARE);
      const tables = stats.map((s) => ({
        table: s.table,
        live: s.live,
        dead: s.dead,
        lastAutovacuum: iso(s.last_autovacuum),
        lastVacuum: iso(s.last_vacuum),
        lastAutoanalyze: iso(s.last_autoanalyze),
        lastAnalyze: iso(s.last_analyze),
      }));
      return bloated.length === 0
        ? outcome(true, `No table has more than ${DEAD_TUPLES_SHARE * 100}% dead tuples (${stats.length} read).`, {
            tables,
          })
        : outcome(
            false,
            `${bloated.map((s) => `${s.table}: ${s.dead} dead of ${s.live} live, last autovacuum ${iso(s.last_autovacuum) ?? 'never'}`).join('; ')}. VACUUM (ANALYZE) ${be(bloated.length, 'it', 'them')} before the migration reads ${be(bloated.length, 'it', 'them')}.`,
            { tables },
            bloated.map((s) => s.table),
          );
    },
  },
  {
    name: 'connections.free_slots',
    severity: 'error',
    async run({ tx }) {
      const [s] = await readCatalogue(tx, connectionSlotsSql());
      if (!s) throw new CouldNotLook('no row');
      const free = s.max - s.superuser_reserved - s.reserved - s.used;
      return outcome(
        free >= CONNECTIONS_NEEDED,
        free >= CONNECTIONS_NEEDED
          ? `${free} connection slots free (${s.max} max, ${s.superuser_reserved + s.reserved} reserved, ${s.used} used); a migration needs ${CONNECTIONS_NEEDED}.`
          : `Only ${free} connection slots free (${s.max} max, ${s.superuser_reserved + s.reserved} reserved, ${s.used} used); a migration needs ${CONNECTIONS_NEEDED}.`,
        { ...s, free, needed: CONNECTIONS_NEEDED },
      );
    },
  },
  {
    name: 'session.statement_timeout',
    severity: 'warning',
    async run({ tx }) {
      const settings = await readCatalogue(tx, sessionTimeoutsSql());
      const timeout = settings.find((s) => s.name === 'statement_timeout');
      if (!timeout) throw new CouldNotLook('statement_timeout is not in pg_settings');
      const ms = Number(timeout.reset_val); // pg_settings gives it in ms
      const [configured] = await readCatalogue(tx, configuredStatementTimeoutSql());
      const configuredMs = configured ? gucMs(configured.value) : null;
      const short = (value: number | null) => value !== null && value !== 0 && value < BATCH_LIMITS.statementTimeoutMs;
      const details = {
        statementTimeoutMs: ms,
        source: timeout.source,
        configured: configured ? { ...configured, ms: configuredMs } : null,
        batchTimeoutMs: BATCH_LIMITS.statementTimeoutMs,
        settings: Object.fromEntries(settings.map((s) => [s.name, `${s.reset_val}${s.unit ?? ''}`])),
      };
      const session = `The session's statement_timeout is ${ms === 0 ? 'off' : `${ms} ms`} (from ${timeout.source})`;
      if (short(ms) || short(configuredMs))
        return outcome(
          false,
          `${session}${configured ? `; ${configured.level} sets ${configured.value} for new sessions` : ''}: shorter than a batch may take (${BATCH_LIMITS.statementTimeoutMs} ms). The service sets its own per transaction, but a step run by hand (psql, the runbook) is cut. Raise it for the cutover.`,
          details,
        );
      return outcome(
        true,
        `${session}${configured ? `; ${configured.level} sets ${configured.value}` : ''}: no shorter than a batch may take.`,
        details,
      );
    },
  },
  {
    name: 'connection.direct',
    severity: 'critical',
    async run({ target, driver }) {
      if (driver === 'pglite')
        return outcome(true, 'The embedded database (PGlite): no pooler stands in between.', { driver });
      if (!target?.host) throw new CouldNotLook('the configuration did not say which host the service reaches');
      const pooled = isPoolerHost(target.host);
      return outcome(
        !pooled,
        pooled
          ? `${target.host} is a pooler (PgBouncer in transaction mode): the advisory lock and the lease need a session of their own. Use the direct host (the service refuses a -pooler DATABASE_URL at startup).`
          : `${target.host} is a direct host, not a pooler (the service refuses a -pooler DATABASE_URL at startup).`,
        { host: target.host, driver },
      );
    },
  },
];

/** Runs one check; one that could not look is skipped, with severity info. */
export async function runCheck(check: CheckDefinition, facts: Facts): Promise<CheckResult> {
  try {
    return { name: check.name, severity: check.severity, ...(await check.run(facts)) };
  } catch (error) {
    if (!(error instanceof CouldNotLook)) throw error;
    return {
      name: check.name,
      severity: 'info',
      passed: false,
      skipped: true,
      message: `Skipped: the server would not answer its catalogue read (${error.message}).`,
      details: {},
      sample: [],
    };
  }
}
