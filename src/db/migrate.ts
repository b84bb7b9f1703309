import type { Queryable, Session } from '../adapters/db/types.js';
import { ServiceError } from '../errors.js';
import { SERVICE_SCHEMA } from '../sql/catalog.js';
import { existingTables } from '../sql/introspection.js';
import type { BundledMigration } from './bundled-migration.js';
import { MIGRATIONS } from './migrations.bundle.js';

export interface MigrationOutcome {
  tag: string;
  /**
   * applied: its SQL ran; adopted: its tables already existed (SARK made them) and were left
   * as they are; already-applied: an earlier run did it; would-apply / would-adopt: a dry run's plan.
   */
  outcome: 'applied' | 'adopted' | 'already-applied' | 'would-apply' | 'would-adopt';
}

const LEDGER = `${SERVICE_SCHEMA}.schema_migrations`;

async function ensureLedger(session: Session): Promise<void> {
  await session.query(`CREATE SCHEMA IF NOT EXISTS ${SERVICE_SCHEMA}`);
  await session.query(`CREATE TABLE IF NOT EXISTS ${LEDGER} (
    tag text PRIMARY KEY,
    hash text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('applied', 'adopted')),
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
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
  if (decision === 'apply') for (const statement of migration.statements) await tx.query(statement);
  const outcome = decision === 'apply' ? 'applied' : 'adopted';
  await tx.query(`INSERT INTO ${LEDGER} (tag, hash, outcome) VALUES ($1, $2, $3)`, [
    migration.tag,
    migration.hash,
    outcome,
  ]);
  return outcome;
}

async function appliedTags(db: Queryable): Promise<Set<string>> {
  if (!(await existingTables(db, [LEDGER])).has(LEDGER)) return new Set();
  const applied = await db.query<{ tag: string }>(`SELECT tag FROM ${LEDGER}`);
  return new Set(applied.rows.map((r) => r.tag));
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
    else
      plan.push({
        tag: migration.tag,
        outcome: (await decide(db, migration)) === 'apply' ? 'would-apply' : 'would-adopt',
      });
  }
  return plan;
}

/**
 * Brings the database to the bundled migrations, each in its own transaction. The caller
 * holds the advisory lock (it is a changing operation). Tables SARK's own migrations already
 * created are adopted, never recreated.
 */
export async function applyMigrations(
  session: Session,
  migrations: readonly BundledMigration[] = MIGRATIONS,
): Promise<MigrationOutcome[]> {
  await ensureLedger(session);
  const done = await appliedTags(session);
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
