import type { Queryable, Session } from '../adapters/db/types.js';
import { ServiceError } from '../errors.js';
import { existingTables } from '../sql/introspection.js';
import {
  appliedTagsSql,
  createLedgerSql,
  createServiceSchemaSql,
  LEDGER,
  migrationStatementSql,
  recordMigrationSql,
} from '../sql/ledger.js';
import { execute, queryRows } from '../sql/sql.js';
import type { BundledMigration } from './bundled-migration.js';
import { MIGRATIONS } from './migrations.bundle.js';

/** SARK's v2 tables: /migrate's schema phase creates (or adopts) them. */
export const V2_MIGRATIONS = MIGRATIONS.filter((m) => m.target === 'v2');
/** The service's own schema (sark_migrate): src/db/service-migrations.ts applies it where the service starts. */
export const SERVICE_MIGRATIONS = MIGRATIONS.filter((m) => m.target === 'service');

export interface MigrationOutcome {
  tag: string;
  /**
   * applied: its SQL ran; adopted: its tables already existed (SARK made them) and were left
   * as they are; already-applied: an earlier run did it; would-apply / would-adopt: a dry run's plan.
   */
  outcome: 'applied' | 'adopted' | 'already-applied' | 'would-apply' | 'would-adopt';
}

/** Whether a migration's tables are all absent (apply it), all present (adopt it), or neither (refuse). */
async function decide(db: Queryable, migration: BundledMigration): Promise<'apply' | 'adopt'> {
  const existing = await existingTables(db, migration.createsTables);
  const present = migration.createsTables.filter((t) => existing.has(t));
  if (migration.createsTables.length > 0 && present.length === migration.createsTables.length) return 'adopt';
  if (present.length === 0) return 'apply';
  const missing = migration.createsTables.filter((t) => !present.includes(t));
  throw new ServiceError(
    'schema-conflict',
    `Migration ${migration.tag} creates ${migration.createsTables.join(', ')}; ${present.join(', ')} already exist but ${missing.join(', ')} do not. Create or drop the rest by hand first.`,
    { facts: { present, missing } },
  );
}

async function applyOne(tx: Queryable, migration: BundledMigration): Promise<'applied' | 'adopted'> {
  const decision = await decide(tx, migration);
  if (decision === 'apply') {
    for (const statement of migration.statements) await execute(tx, migrationStatementSql(statement));
  }
  const outcome = decision === 'apply' ? 'applied' : 'adopted';
  await execute(tx, recordMigrationSql(migration, outcome));
  return outcome;
}

/** The migrations the ledger records, and the hash of the SQL each was applied from. */
async function applied(db: Queryable): Promise<Map<string, string>> {
  if (!(await existingTables(db, [LEDGER])).has(LEDGER)) return new Map();
  return new Map((await queryRows(db, appliedTagsSql())).map((r) => [r.tag, r.hash]));
}

const appliedTags = async (db: Queryable) => new Set((await applied(db)).keys());

/**
 * A migration is applied after those before it as they are bundled: if one of them was applied
 * from other SQL (an earlier version of its file), what follows may not hold. Then nothing is
 * applied, and the operator is told which migration to look at.
 */
function refuseAfterChanged(migrations: readonly BundledMigration[], done: Map<string, string>): void {
  const firstPending = migrations.findIndex((m) => !done.has(m.tag));
  if (firstPending < 0) return;
  const changed = migrations.slice(0, firstPending).find((m) => done.get(m.tag) !== m.hash);
  if (!changed) return;
  throw new ServiceError(
    'schema-conflict',
    `Migration ${changed.tag} was applied from other SQL than this version of the service bundles (its recorded hash differs), so ${migrations[firstPending]!.tag} and those after it were not applied. Compare drizzle/${changed.tag}.sql with what the database has, bring the database to it by hand, then set the hash recorded in sark_migrate.schema_migrations to ${changed.hash}.`,
    { facts: { tag: changed.tag, recordedHash: done.get(changed.tag), bundledHash: changed.hash } },
  );
}

/** The tags of `migrations` the database has not had yet. */
export async function pendingMigrations(db: Queryable, migrations: readonly BundledMigration[]): Promise<string[]> {
  const done = await appliedTags(db);
  return migrations.filter((m) => !done.has(m.tag)).map((m) => m.tag);
}

/** What applyMigrations would do, changing nothing (a dry run's schema phase). */
export async function planMigrations(
  db: Queryable,
  migrations: readonly BundledMigration[] = MIGRATIONS,
): Promise<MigrationOutcome[]> {
  const done = await appliedTags(db);
  const plan: MigrationOutcome[] = [];
  for (const migration of migrations) {
    if (done.has(migration.tag)) plan.push({ tag: migration.tag, outcome: 'already-applied' });
    else {
      const decision = await decide(db, migration);
      plan.push({ tag: migration.tag, outcome: decision === 'apply' ? 'would-apply' : 'would-adopt' });
    }
  }
  return plan;
}

/**
 * Runs the SQL of the migrations the database has not had and whose tables are all absent, in the
 * caller's transaction, recording nothing: for a sample the caller rolls back (/preflight's
 * estimate). Tables that exist are left as they are, as applyMigrations adopts them.
 */
export async function createAbsentTables(tx: Queryable, migrations: readonly BundledMigration[]): Promise<number> {
  const done = await appliedTags(tx);
  let created = 0;
  for (const migration of migrations) {
    if (done.has(migration.tag) || (await decide(tx, migration)) !== 'apply') continue;
    for (const statement of migration.statements) await execute(tx, migrationStatementSql(statement));
    created++;
  }
  return created;
}

/**
 * Brings the database to the bundled migrations, each in its own transaction. The caller
 * holds the advisory lock. Tables SARK's own migrations already created are adopted, never
 * recreated.
 */
export async function applyMigrations(
  session: Session,
  migrations: readonly BundledMigration[] = MIGRATIONS,
): Promise<MigrationOutcome[]> {
  await execute(session, createServiceSchemaSql());
  await execute(session, createLedgerSql());
  const recorded = await applied(session);
  refuseAfterChanged(migrations, recorded);
  const done = new Set(recorded.keys());
  const outcomes: MigrationOutcome[] = [];
  for (const migration of migrations) {
    if (done.has(migration.tag)) {
      outcomes.push({ tag: migration.tag, outcome: 'already-applied' });
      continue;
    }
    const outcome = await session.transaction((tx) => applyOne(tx, migration), { lockTimeoutMs: 5_000 });
    outcomes.push({ tag: migration.tag, outcome });
  }
  return outcomes;
}
