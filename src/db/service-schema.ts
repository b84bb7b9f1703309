import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  jsonb,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/pg-core';
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

/**
 * The lease every changing run holds on the database: one row, taken by one statement, renewed
 * while the run lives, released at its end (holder NULL). Its holder is the run's report id.
 * `holder` is unique so that changing it (take, take over, release) is a key update: it waits
 * for every batch that holds the row FOR KEY SHARE (the fence, src/sql/lease.ts), while a
 * renewal, which changes only `expires_at`, does not.
 */
export const lease = sarkMigrate.table(
  'lease',
  {
    id: smallint('id').primaryKey().default(1),
    holder: text('holder'),
    kind: text('kind'),
    takenAt: timestamp('taken_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** The run the holder took the lease over from, its lease expired; NULL when it was free. */
    previousHolder: text('previous_holder'),
  },
  (t) => [uniqueIndex('lease_holder').on(t.holder), check('lease_one_row', sql`${t.id} = 1`)],
);

/**
 * Every run the service started on this database, whatever its door or runtime: what a cancel
 * request marks (another isolate or process may be running it) and what a restarted process
 * finds abandoned. Its report, in the report store, stays the record of what it did.
 */
export const runs = sarkMigrate.table(
  'runs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    /** running, then succeeded, failed, cancelled or abandoned. */
    status: text('status').notNull(),
    changing: boolean('changing').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    /** Renewed by every step and by the heartbeat of the process running it. */
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    /** Who started it (the token's name, `slack:<team>/<user>`); NULL for runs recorded before 0006. */
    actor: text('actor'),
  },
  // One read run per actor at a time, whatever process or isolate runs it (changing runs have the lease).
  (t) => [
    uniqueIndex('runs_one_read_per_actor')
      .on(t.actor)
      .where(sql`${t.status} = 'running' AND NOT ${t.changing}`),
  ],
);

/**
 * The steps of a run that committed, each written in the transaction of its own work: a step
 * tried again (a lost connection, an evicted isolate) finds its result here and does nothing twice.
 */
export const runSteps = sarkMigrate.table(
  'run_steps',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    step: text('step').notNull(),
    result: jsonb('result').notNull(),
    committedAt: timestamp('committed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);
