-- Custom SQL migration file, put your code below! --
-- The rollback archive, packed: a row per (at most) 200 archived rows, held as an array of a
-- composite type that TOAST compresses. 0004 moves the rows of the row-for-row tables into the
-- packs, drops those tables and puts views of the same names in their place, in one transaction.
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
