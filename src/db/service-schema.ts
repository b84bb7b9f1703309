import { sql } from 'drizzle-orm';
import { jsonb, pgSchema, text, timestamp, varchar } from 'drizzle-orm/pg-core';
import { ARCHIVED_COLUMNS, ARCHIVED_PACKS, SERVICE_SCHEMA } from '../sql/catalog.js';

/**
 * The service's own tables, in a schema of their own. The migration ledger
 * (sark_migrate.schema_migrations) is made by the migrator itself, before any migration runs.
 */
export const sarkMigrate = pgSchema(SERVICE_SCHEMA);

/**
 * What a rollback removed, row for row, so a rollback can itself be undone: views over packs.
 * A pack (sark_migrate.archived_resource_packs, archived_capability_packs) holds up to 200
 * removed rows as one array of a composite type, which TOAST compresses: a million archived
 * rows then cost a fifth of the disk and WAL, and a fraction of the row-by-row inserts (README,
 * /rollback). drizzle-kit cannot model composite types, so the packs and their types come from
 * the custom migration 0003; 0004 replaced the row-for-row tables of these names by the views.
 */
/** The view's query: every archived row of one table, with the run that removed it and when. */
const unpacked = (table: keyof typeof ARCHIVED_COLUMNS) =>
  sql.raw(
    `SELECT p.rollback_id, p.archived_at, ${ARCHIVED_COLUMNS[table].map((c) => `r.${c}`).join(', ')} FROM ${SERVICE_SCHEMA}.${ARCHIVED_PACKS[table]} p CROSS JOIN LATERAL unnest(p.rows) r`,
  );

/** The columns every archived row has: the run that removed it, and when. */
const archivedUnder = () => ({
  rollbackId: text('rollback_id').notNull(),
  archivedAt: timestamp('archived_at', { withTimezone: true }).notNull(),
});

export const archivedResources = sarkMigrate
  .view('archived_resources', {
    ...archivedUnder(),
    id: varchar('id', { length: 255 }).notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    protocol: varchar('protocol', { length: 50 }).notNull(),
    endpoint: varchar('endpoint', { length: 1000 }).notNull(),
    sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull(),
    metadata: jsonb('metadata').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  })
  .as(unpacked('resources'));

/** Capabilities a rollback removed (with their resource, or orphans of v1 origin). */
export const archivedCapabilities = sarkMigrate
  .view('archived_capabilities', {
    ...archivedUnder(),
    id: varchar('id', { length: 255 }).notNull(),
    resourceId: varchar('resource_id', { length: 255 }).notNull(),
    name: varchar('name', { length: 255 }).notNull(),
    description: text('description'),
    inputSchema: jsonb('input_schema').notNull(),
    outputSchema: jsonb('output_schema').notNull(),
    sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull(),
    metadata: jsonb('metadata').notNull(),
  })
  .as(unpacked('capabilities'));
