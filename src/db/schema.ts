import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * SARK v2.0's tables, column for column and index for index as SARK's own migrations 006 and
 * 007 create them, so a database SARK already migrated matches and is adopted as it is.
 */

export const resources = pgTable(
  'resources',
  {
    id: varchar('id', { length: 255 }).primaryKey(),
    name: varchar('name', { length: 255 }).notNull(),
    protocol: varchar('protocol', { length: 50 }).notNull(),
    endpoint: varchar('endpoint', { length: 1000 }).notNull(),
    sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull().default('medium'),
    metadata: jsonb('metadata').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('ix_resources_protocol').on(t.protocol),
    index('ix_resources_sensitivity').on(t.sensitivityLevel),
    index('ix_resources_name').on(t.name),
    index('ix_resources_metadata_gin').using('gin', t.metadata),
  ],
);

export const capabilities = pgTable(
  'capabilities',
  {
    id: varchar('id', { length: 255 }).primaryKey(),
    resourceId: varchar('resource_id', { length: 255 })
      .notNull()
      .references(() => resources.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 255 }).notNull(),
    description: text('description'),
    inputSchema: jsonb('input_schema').notNull().default({}),
    outputSchema: jsonb('output_schema').notNull().default({}),
    sensitivityLevel: varchar('sensitivity_level', { length: 20 }).notNull().default('medium'),
    metadata: jsonb('metadata').notNull().default({}),
  },
  (t) => [
    index('ix_capabilities_resource').on(t.resourceId),
    index('ix_capabilities_name').on(t.name),
    index('ix_capabilities_sensitivity').on(t.sensitivityLevel),
    index('ix_capabilities_metadata_gin').using('gin', t.metadata),
  ],
);

export const federationNodes = pgTable('federation_nodes', {
  id: uuid('id').primaryKey(),
  nodeId: varchar('node_id', { length: 255 }).notNull().unique(),
  name: varchar('name', { length: 255 }).notNull(),
  endpoint: varchar('endpoint', { length: 500 }).notNull(),
  trustAnchorCert: text('trust_anchor_cert').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  trustedSince: timestamp('trusted_since', { withTimezone: true }).notNull().defaultNow(),
  rateLimitPerHour: integer('rate_limit_per_hour').default(10000),
  metadata: jsonb('metadata').notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const costTracking = pgTable(
  'cost_tracking',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull().defaultNow(),
    principalId: varchar('principal_id', { length: 255 }).notNull(),
    resourceId: varchar('resource_id', { length: 255 }).notNull(),
    capabilityId: varchar('capability_id', { length: 255 }).notNull(),
    estimatedCost: numeric('estimated_cost', { precision: 10, scale: 4 }),
    actualCost: numeric('actual_cost', { precision: 10, scale: 4 }),
    metadata: jsonb('metadata').notNull().default({}),
  },
  (t) => [
    index('ix_cost_tracking_timestamp').on(t.timestamp),
    index('ix_cost_tracking_principal').on(t.principalId),
    index('ix_cost_tracking_resource').on(t.resourceId),
    index('ix_cost_tracking_capability').on(t.capabilityId),
  ],
);

export const principalBudgets = pgTable('principal_budgets', {
  principalId: varchar('principal_id', { length: 255 }).primaryKey(),
  dailyBudget: numeric('daily_budget', { precision: 10, scale: 2 }),
  monthlyBudget: numeric('monthly_budget', { precision: 10, scale: 2 }),
  dailySpent: numeric('daily_spent', { precision: 10, scale: 4 })
    .notNull()
    .default(sql`0`),
  monthlySpent: numeric('monthly_spent', { precision: 10, scale: 4 })
    .notNull()
    .default(sql`0`),
  lastDailyReset: timestamp('last_daily_reset', { withTimezone: true }),
  lastMonthlyReset: timestamp('last_monthly_reset', { withTimezone: true }),
  currency: varchar('currency', { length: 3 }).notNull().default('USD'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
