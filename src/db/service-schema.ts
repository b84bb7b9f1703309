import { sql } from 'drizzle-orm';
import { jsonb, pgSchema, text, timestamp, varchar } from 'drizzle-orm/pg-core';

/**
 * The service's own tables, in a schema of their own. The migration ledger
 * (sark_migrate.schema_migrations) is made by the migrator itself, before any migration runs.
 */
export const sarkMigrate = pgSchema('sark_migrate');

/**
 * What a rollback removed, row for row, so a rollback can itself be undone: views over packs.
 * A pack (sark_migrate.archived_resource_packs, archived_capability_packs) holds up to 200
 * removed rows as one array of a composite type, which TOAST compresses: a million archived
 * rows then cost a fifth of the disk and WAL, and a fraction of the row-by-row inserts (README,
 * /rollback). drizzle-kit cannot model composite types, so the packs and their types come from
 * the custom migration 0003; 0004 replaced the row-for-row tables of these names by the views.
 */
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
  .as(
    sql`SELECT p.rollback_id, p.archived_at, r.id, r.name, r.protocol, r.endpoint, r.sensitivity_level, r.metadata, r.created_at, r.updated_at FROM sark_migrate.archived_resource_packs p CROSS JOIN LATERAL unnest(p.rows) r`,
  );

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
  .as(
    sql`SELECT p.rollback_id, p.archived_at, r.id, r.resource_id, r.name, r.description, r.input_schema, r.output_schema, r.sensitivity_level, r.metadata FROM sark_migrate.archived_capability_packs p CROSS JOIN LATERAL unnest(p.rows) r`,
  );
