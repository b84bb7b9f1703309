-- Custom SQL migration file, put your code below! --
-- The rollback archive, packed: a row per (at most) 200 archived rows, held as an array of a
-- composite type that TOAST compresses. The two INSERTs at the end move the rows 0001's
-- row-for-row tables hold into the packs; 0004 (generated from src/db/service-schema.ts) then
-- drops those tables and puts views of the same names in their place. The service applies its
-- migrations one after another under its advisory lock, which every rollback holds too, so no
-- rollback can archive a row between the move and the drop.
-- drizzle-kit models neither composite types nor arrays of them, hence a custom migration.
-- The types' fields have no length: a cast to varchar(n) cuts a longer value without a word, and
-- a v2 table adopted from SARK may have wider columns than ours.
CREATE TYPE "sark_migrate"."archived_resource" AS (
	"id" varchar, "name" varchar, "protocol" varchar, "endpoint" varchar, "sensitivity_level" varchar,
	"metadata" jsonb, "created_at" timestamp with time zone, "updated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TYPE "sark_migrate"."archived_capability" AS (
	"id" varchar, "resource_id" varchar, "name" varchar, "description" text, "input_schema" jsonb,
	"output_schema" jsonb, "sensitivity_level" varchar, "metadata" jsonb
);
--> statement-breakpoint
CREATE TABLE "sark_migrate"."archived_resource_packs" (
	"rollback_id" text NOT NULL,
	"archived_at" timestamp with time zone DEFAULT now() NOT NULL,
	"rows" "sark_migrate"."archived_resource"[] NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sark_migrate"."archived_capability_packs" (
	"rollback_id" text NOT NULL,
	"archived_at" timestamp with time zone DEFAULT now() NOT NULL,
	"rows" "sark_migrate"."archived_capability"[] NOT NULL
);
--> statement-breakpoint
INSERT INTO "sark_migrate"."archived_resource_packs" ("rollback_id", "archived_at", "rows")
SELECT a.rollback_id, a.archived_at, array_agg(ROW(a.id, a.name, a.protocol, a.endpoint, a.sensitivity_level, a.metadata, a.created_at, a.updated_at)::"sark_migrate"."archived_resource")
  FROM (SELECT r.*, (row_number() OVER (PARTITION BY r.rollback_id, r.archived_at) - 1) / 200 AS pack FROM "sark_migrate"."archived_resources" r) a
 GROUP BY a.rollback_id, a.archived_at, a.pack;
--> statement-breakpoint
INSERT INTO "sark_migrate"."archived_capability_packs" ("rollback_id", "archived_at", "rows")
SELECT a.rollback_id, a.archived_at, array_agg(ROW(a.id, a.resource_id, a.name, a.description, a.input_schema, a.output_schema, a.sensitivity_level, a.metadata)::"sark_migrate"."archived_capability")
  FROM (SELECT c.*, (row_number() OVER (PARTITION BY c.rollback_id, c.archived_at) - 1) / 200 AS pack FROM "sark_migrate"."archived_capabilities" c) a
 GROUP BY a.rollback_id, a.archived_at, a.pack;
