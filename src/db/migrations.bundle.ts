// Generated from drizzle/ by scripts/bundle-migrations.ts (npm run db:generate). Do not edit.
import type { BundledMigration } from './bundled-migration.js';

export const MIGRATIONS: readonly BundledMigration[] = [
  {
    "tag": "0000_v2_tables",
    "hash": "9c61278bebba75dc7a46bcf5d8785476ecbdc3b4b5ce9f8d17781b76efaa81b2",
    "target": "v2",
    "createsTables": [
      "capabilities",
      "cost_tracking",
      "federation_nodes",
      "principal_budgets",
      "resources"
    ],
    "statements": [
      "CREATE TABLE \"capabilities\" (\n\t\"id\" varchar(255) PRIMARY KEY NOT NULL,\n\t\"resource_id\" varchar(255) NOT NULL,\n\t\"name\" varchar(255) NOT NULL,\n\t\"description\" text,\n\t\"input_schema\" jsonb DEFAULT '{}'::jsonb NOT NULL,\n\t\"output_schema\" jsonb DEFAULT '{}'::jsonb NOT NULL,\n\t\"sensitivity_level\" varchar(20) DEFAULT 'medium' NOT NULL,\n\t\"metadata\" jsonb DEFAULT '{}'::jsonb NOT NULL\n);",
      "CREATE TABLE \"cost_tracking\" (\n\t\"id\" bigserial PRIMARY KEY NOT NULL,\n\t\"timestamp\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"principal_id\" varchar(255) NOT NULL,\n\t\"resource_id\" varchar(255) NOT NULL,\n\t\"capability_id\" varchar(255) NOT NULL,\n\t\"estimated_cost\" numeric(10, 4),\n\t\"actual_cost\" numeric(10, 4),\n\t\"metadata\" jsonb DEFAULT '{}'::jsonb NOT NULL\n);",
      "CREATE TABLE \"federation_nodes\" (\n\t\"id\" uuid PRIMARY KEY NOT NULL,\n\t\"node_id\" varchar(255) NOT NULL,\n\t\"name\" varchar(255) NOT NULL,\n\t\"endpoint\" varchar(500) NOT NULL,\n\t\"trust_anchor_cert\" text NOT NULL,\n\t\"enabled\" boolean DEFAULT true NOT NULL,\n\t\"trusted_since\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"rate_limit_per_hour\" integer DEFAULT 10000,\n\t\"metadata\" jsonb DEFAULT '{}'::jsonb NOT NULL,\n\t\"created_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"updated_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\tCONSTRAINT \"federation_nodes_node_id_unique\" UNIQUE(\"node_id\")\n);",
      "CREATE TABLE \"principal_budgets\" (\n\t\"principal_id\" varchar(255) PRIMARY KEY NOT NULL,\n\t\"daily_budget\" numeric(10, 2),\n\t\"monthly_budget\" numeric(10, 2),\n\t\"daily_spent\" numeric(10, 4) DEFAULT 0 NOT NULL,\n\t\"monthly_spent\" numeric(10, 4) DEFAULT 0 NOT NULL,\n\t\"last_daily_reset\" timestamp with time zone,\n\t\"last_monthly_reset\" timestamp with time zone,\n\t\"currency\" varchar(3) DEFAULT 'USD' NOT NULL,\n\t\"created_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"updated_at\" timestamp with time zone DEFAULT now() NOT NULL\n);",
      "CREATE TABLE \"resources\" (\n\t\"id\" varchar(255) PRIMARY KEY NOT NULL,\n\t\"name\" varchar(255) NOT NULL,\n\t\"protocol\" varchar(50) NOT NULL,\n\t\"endpoint\" varchar(1000) NOT NULL,\n\t\"sensitivity_level\" varchar(20) DEFAULT 'medium' NOT NULL,\n\t\"metadata\" jsonb DEFAULT '{}'::jsonb NOT NULL,\n\t\"created_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"updated_at\" timestamp with time zone DEFAULT now() NOT NULL\n);",
      "ALTER TABLE \"capabilities\" ADD CONSTRAINT \"capabilities_resource_id_resources_id_fk\" FOREIGN KEY (\"resource_id\") REFERENCES \"public\".\"resources\"(\"id\") ON DELETE cascade ON UPDATE no action;",
      "CREATE INDEX \"ix_capabilities_resource\" ON \"capabilities\" USING btree (\"resource_id\");",
      "CREATE INDEX \"ix_capabilities_name\" ON \"capabilities\" USING btree (\"name\");",
      "CREATE INDEX \"ix_capabilities_sensitivity\" ON \"capabilities\" USING btree (\"sensitivity_level\");",
      "CREATE INDEX \"ix_capabilities_metadata_gin\" ON \"capabilities\" USING gin (\"metadata\");",
      "CREATE INDEX \"ix_cost_tracking_timestamp\" ON \"cost_tracking\" USING btree (\"timestamp\");",
      "CREATE INDEX \"ix_cost_tracking_principal\" ON \"cost_tracking\" USING btree (\"principal_id\");",
      "CREATE INDEX \"ix_cost_tracking_resource\" ON \"cost_tracking\" USING btree (\"resource_id\");",
      "CREATE INDEX \"ix_cost_tracking_capability\" ON \"cost_tracking\" USING btree (\"capability_id\");",
      "CREATE INDEX \"ix_resources_protocol\" ON \"resources\" USING btree (\"protocol\");",
      "CREATE INDEX \"ix_resources_sensitivity\" ON \"resources\" USING btree (\"sensitivity_level\");",
      "CREATE INDEX \"ix_resources_name\" ON \"resources\" USING btree (\"name\");",
      "CREATE INDEX \"ix_resources_metadata_gin\" ON \"resources\" USING gin (\"metadata\");"
    ]
  },
  {
    "tag": "0001_rollback_archive",
    "hash": "f087a127b62bd275a6ac21ac38397c76546bd78c8416cc852048ae5d29455791",
    "target": "service",
    "createsTables": [
      "sark_migrate.archived_capabilities",
      "sark_migrate.archived_resources"
    ],
    "statements": [
      "CREATE SCHEMA IF NOT EXISTS \"sark_migrate\";",
      "CREATE TABLE \"sark_migrate\".\"archived_capabilities\" (\n\t\"rollback_id\" text NOT NULL,\n\t\"archived_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"id\" varchar(255) NOT NULL,\n\t\"resource_id\" varchar(255) NOT NULL,\n\t\"name\" varchar(255) NOT NULL,\n\t\"description\" text,\n\t\"input_schema\" jsonb NOT NULL,\n\t\"output_schema\" jsonb NOT NULL,\n\t\"sensitivity_level\" varchar(20) NOT NULL,\n\t\"metadata\" jsonb NOT NULL\n);",
      "CREATE TABLE \"sark_migrate\".\"archived_resources\" (\n\t\"rollback_id\" text NOT NULL,\n\t\"archived_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"id\" varchar(255) NOT NULL,\n\t\"name\" varchar(255) NOT NULL,\n\t\"protocol\" varchar(50) NOT NULL,\n\t\"endpoint\" varchar(1000) NOT NULL,\n\t\"sensitivity_level\" varchar(20) NOT NULL,\n\t\"metadata\" jsonb NOT NULL,\n\t\"created_at\" timestamp with time zone NOT NULL,\n\t\"updated_at\" timestamp with time zone NOT NULL\n);",
      "CREATE INDEX \"ix_archived_capabilities_rollback\" ON \"sark_migrate\".\"archived_capabilities\" USING btree (\"rollback_id\");",
      "CREATE INDEX \"ix_archived_resources_rollback\" ON \"sark_migrate\".\"archived_resources\" USING btree (\"rollback_id\");"
    ]
  },
  {
    "tag": "0002_rollback_archive_unindexed",
    "hash": "1e5ea1e4666d86054b3f46a3b0e6e0df23fd426f269e13f5e6b521267cc69667",
    "target": "service",
    "createsTables": [],
    "statements": [
      "DROP INDEX IF EXISTS \"sark_migrate\".\"ix_archived_capabilities_rollback\";",
      "DROP INDEX IF EXISTS \"sark_migrate\".\"ix_archived_resources_rollback\";"
    ]
  },
  {
    "tag": "0003_rollback_archive_packs",
    "hash": "8cf5332aebfb9b23c863e01e4cd616b3b6cb9d7833398e28b046a18a097225ee",
    "target": "service",
    "createsTables": [
      "sark_migrate.archived_resource_packs",
      "sark_migrate.archived_capability_packs"
    ],
    "statements": [
      "-- Custom SQL migration file, put your code below! --\n-- The rollback archive, packed: a row per (at most) 200 archived rows, held as an array of a\n-- composite type that TOAST compresses. The two INSERTs at the end move the rows 0001's\n-- row-for-row tables hold into the packs; 0004 (generated from src/db/service-schema.ts) then\n-- drops those tables and puts views of the same names in their place. The service applies its\n-- migrations one after another under its advisory lock, which every rollback holds too, so no\n-- rollback can archive a row between the move and the drop.\n-- drizzle-kit models neither composite types nor arrays of them, hence a custom migration.\n-- The types' fields have no length: a cast to varchar(n) cuts a longer value without a word, and\n-- a v2 table adopted from SARK may have wider columns than ours.\nCREATE TYPE \"sark_migrate\".\"archived_resource\" AS (\n\t\"id\" varchar, \"name\" varchar, \"protocol\" varchar, \"endpoint\" varchar, \"sensitivity_level\" varchar,\n\t\"metadata\" jsonb, \"created_at\" timestamp with time zone, \"updated_at\" timestamp with time zone\n);",
      "CREATE TYPE \"sark_migrate\".\"archived_capability\" AS (\n\t\"id\" varchar, \"resource_id\" varchar, \"name\" varchar, \"description\" text, \"input_schema\" jsonb,\n\t\"output_schema\" jsonb, \"sensitivity_level\" varchar, \"metadata\" jsonb\n);",
      "CREATE TABLE \"sark_migrate\".\"archived_resource_packs\" (\n\t\"rollback_id\" text NOT NULL,\n\t\"archived_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"rows\" \"sark_migrate\".\"archived_resource\"[] NOT NULL\n);",
      "CREATE TABLE \"sark_migrate\".\"archived_capability_packs\" (\n\t\"rollback_id\" text NOT NULL,\n\t\"archived_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"rows\" \"sark_migrate\".\"archived_capability\"[] NOT NULL\n);",
      "INSERT INTO \"sark_migrate\".\"archived_resource_packs\" (\"rollback_id\", \"archived_at\", \"rows\")\nSELECT a.rollback_id, a.archived_at, array_agg(ROW(a.id, a.name, a.protocol, a.endpoint, a.sensitivity_level, a.metadata, a.created_at, a.updated_at)::\"sark_migrate\".\"archived_resource\")\n  FROM (SELECT r.*, (row_number() OVER (PARTITION BY r.rollback_id, r.archived_at) - 1) / 200 AS pack FROM \"sark_migrate\".\"archived_resources\" r) a\n GROUP BY a.rollback_id, a.archived_at, a.pack;",
      "INSERT INTO \"sark_migrate\".\"archived_capability_packs\" (\"rollback_id\", \"archived_at\", \"rows\")\nSELECT a.rollback_id, a.archived_at, array_agg(ROW(a.id, a.resource_id, a.name, a.description, a.input_schema, a.output_schema, a.sensitivity_level, a.metadata)::\"sark_migrate\".\"archived_capability\")\n  FROM (SELECT c.*, (row_number() OVER (PARTITION BY c.rollback_id, c.archived_at) - 1) / 200 AS pack FROM \"sark_migrate\".\"archived_capabilities\" c) a\n GROUP BY a.rollback_id, a.archived_at, a.pack;"
    ]
  },
  {
    "tag": "0004_rollback_archive_views",
    "hash": "5a4d658fbac71f60f108df7e97f4661c4c3578d1de66560f42862740aca7bc5a",
    "target": "service",
    "createsTables": [],
    "statements": [
      "DROP TABLE \"sark_migrate\".\"archived_capabilities\" CASCADE;",
      "DROP TABLE \"sark_migrate\".\"archived_resources\" CASCADE;",
      "CREATE VIEW \"sark_migrate\".\"archived_capabilities\" AS (SELECT p.rollback_id, p.archived_at, r.id, r.resource_id, r.name, r.description, r.input_schema, r.output_schema, r.sensitivity_level, r.metadata FROM sark_migrate.archived_capability_packs p CROSS JOIN LATERAL unnest(p.rows) r);",
      "CREATE VIEW \"sark_migrate\".\"archived_resources\" AS (SELECT p.rollback_id, p.archived_at, r.id, r.name, r.protocol, r.endpoint, r.sensitivity_level, r.metadata, r.created_at, r.updated_at FROM sark_migrate.archived_resource_packs p CROSS JOIN LATERAL unnest(p.rows) r);"
    ]
  },
  {
    "tag": "0005_run_lease",
    "hash": "e1b6348865db33f155a077fe227e71349f894a2ea498546bf205377d76fdadb1",
    "target": "service",
    "createsTables": [
      "sark_migrate.lease",
      "sark_migrate.run_steps",
      "sark_migrate.runs"
    ],
    "statements": [
      "CREATE TABLE \"sark_migrate\".\"lease\" (\n\t\"id\" smallint PRIMARY KEY DEFAULT 1 NOT NULL,\n\t\"holder\" text,\n\t\"kind\" text,\n\t\"taken_at\" timestamp with time zone,\n\t\"expires_at\" timestamp with time zone,\n\t\"previous_holder\" text,\n\tCONSTRAINT \"lease_one_row\" CHECK (\"sark_migrate\".\"lease\".\"id\" = 1)\n);",
      "CREATE TABLE \"sark_migrate\".\"run_steps\" (\n\t\"run_id\" text NOT NULL,\n\t\"step\" text NOT NULL,\n\t\"result\" jsonb NOT NULL,\n\t\"committed_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\tCONSTRAINT \"run_steps_run_id_step_pk\" PRIMARY KEY(\"run_id\",\"step\")\n);",
      "CREATE TABLE \"sark_migrate\".\"runs\" (\n\t\"id\" text PRIMARY KEY NOT NULL,\n\t\"kind\" text NOT NULL,\n\t\"status\" text NOT NULL,\n\t\"changing\" boolean NOT NULL,\n\t\"started_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"heartbeat_at\" timestamp with time zone DEFAULT now() NOT NULL,\n\t\"cancel_requested_at\" timestamp with time zone\n);",
      "ALTER TABLE \"sark_migrate\".\"run_steps\" ADD CONSTRAINT \"run_steps_run_id_runs_id_fk\" FOREIGN KEY (\"run_id\") REFERENCES \"sark_migrate\".\"runs\"(\"id\") ON DELETE cascade ON UPDATE no action;",
      "CREATE UNIQUE INDEX \"lease_holder\" ON \"sark_migrate\".\"lease\" USING btree (\"holder\");",
      "-- The lease is one row, free until a changing run takes it.\nINSERT INTO \"sark_migrate\".\"lease\" (\"id\") VALUES (1) ON CONFLICT DO NOTHING;"
    ]
  },
  {
    "tag": "0006_run_actor",
    "hash": "c7264def851a7e1ee09d751febb3c02bde1ac6bdde944b01fb43b8f1a96decd7",
    "target": "service",
    "createsTables": [],
    "statements": [
      "ALTER TABLE \"sark_migrate\".\"runs\" ADD COLUMN \"actor\" text;",
      "CREATE UNIQUE INDEX \"runs_one_read_per_actor\" ON \"sark_migrate\".\"runs\" USING btree (\"actor\") WHERE \"sark_migrate\".\"runs\".\"status\" = 'running' AND NOT \"sark_migrate\".\"runs\".\"changing\";"
    ]
  }
];
