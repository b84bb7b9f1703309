CREATE TABLE "capabilities" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"resource_id" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"description" text,
	"input_schema" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"output_schema" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"sensitivity_level" varchar(20) DEFAULT 'medium' NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cost_tracking" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	"principal_id" varchar(255) NOT NULL,
	"resource_id" varchar(255) NOT NULL,
	"capability_id" varchar(255) NOT NULL,
	"estimated_cost" numeric(10, 4),
	"actual_cost" numeric(10, 4),
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "federation_nodes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"node_id" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"endpoint" varchar(500) NOT NULL,
	"trust_anchor_cert" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"trusted_since" timestamp with time zone DEFAULT now() NOT NULL,
	"rate_limit_per_hour" integer DEFAULT 10000,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "federation_nodes_node_id_unique" UNIQUE("node_id")
);
--> statement-breakpoint
CREATE TABLE "principal_budgets" (
	"principal_id" varchar(255) PRIMARY KEY NOT NULL,
	"daily_budget" numeric(10, 2),
	"monthly_budget" numeric(10, 2),
	"daily_spent" numeric(10, 4) DEFAULT 0 NOT NULL,
	"monthly_spent" numeric(10, 4) DEFAULT 0 NOT NULL,
	"last_daily_reset" timestamp with time zone,
	"last_monthly_reset" timestamp with time zone,
	"currency" varchar(3) DEFAULT 'USD' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"name" varchar(255) NOT NULL,
	"protocol" varchar(50) NOT NULL,
	"endpoint" varchar(1000) NOT NULL,
	"sensitivity_level" varchar(20) DEFAULT 'medium' NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "capabilities" ADD CONSTRAINT "capabilities_resource_id_resources_id_fk" FOREIGN KEY ("resource_id") REFERENCES "public"."resources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_capabilities_resource" ON "capabilities" USING btree ("resource_id");--> statement-breakpoint
CREATE INDEX "ix_capabilities_name" ON "capabilities" USING btree ("name");--> statement-breakpoint
CREATE INDEX "ix_capabilities_sensitivity" ON "capabilities" USING btree ("sensitivity_level");--> statement-breakpoint
CREATE INDEX "ix_capabilities_metadata_gin" ON "capabilities" USING gin ("metadata");--> statement-breakpoint
CREATE INDEX "ix_cost_tracking_timestamp" ON "cost_tracking" USING btree ("timestamp");--> statement-breakpoint
CREATE INDEX "ix_cost_tracking_principal" ON "cost_tracking" USING btree ("principal_id");--> statement-breakpoint
CREATE INDEX "ix_cost_tracking_resource" ON "cost_tracking" USING btree ("resource_id");--> statement-breakpoint
CREATE INDEX "ix_cost_tracking_capability" ON "cost_tracking" USING btree ("capability_id");--> statement-breakpoint
CREATE INDEX "ix_resources_protocol" ON "resources" USING btree ("protocol");--> statement-breakpoint
CREATE INDEX "ix_resources_sensitivity" ON "resources" USING btree ("sensitivity_level");--> statement-breakpoint
CREATE INDEX "ix_resources_name" ON "resources" USING btree ("name");--> statement-breakpoint
CREATE INDEX "ix_resources_metadata_gin" ON "resources" USING gin ("metadata");