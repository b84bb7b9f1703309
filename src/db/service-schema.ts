import { jsonb, pgSchema, text, timestamp, varchar } from 'drizzle-orm/pg-core';

/**
 * The service's own tables, in a schema of their own. The migration ledger
 * (sark_migrate.schema_migrations) is made by the migrator itself, before any migration runs.
 */
export const sarkMigrate = pgSchema('sark_migrate');

/**
 * Resources a rollback removed, column for column, so a rollback can itself be undone.
 * Neither archive table has an index: a rollback writes a million rows in one go and a
 * restore reads them back once, so a scan serves it; a rollback_id index cost ~1 s per
 * million rows archived (ix_archived_*_rollback, dropped in 0002).
 */
export const archivedResources = sarkMigrate.table('archived_resources', {
  rollbackId: text('rollback_id').notNull(),
  archivedAt: timestamp('archived_at', { withTimezone: true }).notNull().defaultNow(),
  id: varchar('id', { length: 255 }).notNull(),
  name: varchar('name', { length: 255 }).notNull(),
  protocol: varchar('protocol', { length: 50 }).notNull(),
  endpoint: varchar('endpoint', { length: 1000 }).notNull(),
  sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull(),
  metadata: jsonb('metadata').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
});

/** Capabilities a rollback removed (cascaded with their resource, or orphans of v1 origin). */
export const archivedCapabilities = sarkMigrate.table('archived_capabilities', {
  rollbackId: text('rollback_id').notNull(),
  archivedAt: timestamp('archived_at', { withTimezone: true }).notNull().defaultNow(),
  id: varchar('id', { length: 255 }).notNull(),
  resourceId: varchar('resource_id', { length: 255 }).notNull(),
  name: varchar('name', { length: 255 }).notNull(),
  description: text('description'),
  inputSchema: jsonb('input_schema').notNull(),
  outputSchema: jsonb('output_schema').notNull(),
  sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull(),
  metadata: jsonb('metadata').notNull(),
});
