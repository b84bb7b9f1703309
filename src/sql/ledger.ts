import { SERVICE_SCHEMA } from './catalog.js';
import { sql } from './sql.js';

/** SQL of the service's migration ledger: which of drizzle/'s migrations a database has had. */

export const LEDGER = `${SERVICE_SCHEMA}.schema_migrations`;

export const createServiceSchemaSql = () => sql(`CREATE SCHEMA IF NOT EXISTS ${SERVICE_SCHEMA}`);

export const createLedgerSql = () =>
  sql(`CREATE TABLE IF NOT EXISTS ${LEDGER} (
    tag text PRIMARY KEY,
    hash text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('applied', 'adopted')),
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);

export const appliedTagsSql = () => sql<{ tag: string; hash: string }>(`SELECT tag, hash FROM ${LEDGER}`);

export const recordMigrationSql = (migration: { tag: string; hash: string }, outcome: 'applied' | 'adopted') =>
  sql(`INSERT INTO ${LEDGER} (tag, hash, outcome) VALUES ($1, $2, $3)`, [migration.tag, migration.hash, outcome]);

/** One statement of a bundled migration: drizzle/ is a fixed catalogue, written by drizzle-kit. */
export const migrationStatementSql = (statement: string) => sql(statement);
