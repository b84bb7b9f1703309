CREATE SCHEMA "sark_migrate";
--> statement-breakpoint
CREATE TABLE "sark_migrate"."archived_capabilities" (
	"rollback_id" text NOT NULL,
	"archived_at" timestamp with time zone DEFAULT now() NOT NULL,
	"id" varchar(255) NOT NULL,
	"resource_id" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"description" text,
	"input_schema" jsonb NOT NULL,
	"output_schema" jsonb NOT NULL,
	"sensitivity_level" varchar(20) NOT NULL,
	"metadata" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sark_migrate"."archived_resources" (
	"rollback_id" text NOT NULL,
	"archived_at" timestamp with time zone DEFAULT now() NOT NULL,
	"id" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"protocol" varchar(50) NOT NULL,
	"endpoint" varchar(1000) NOT NULL,
	"sensitivity_level" varchar(20) NOT NULL,
	"metadata" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "ix_archived_capabilities_rollback" ON "sark_migrate"."archived_capabilities" USING btree ("rollback_id");--> statement-breakpoint
CREATE INDEX "ix_archived_resources_rollback" ON "sark_migrate"."archived_resources" USING btree ("rollback_id");