CREATE TABLE "sark_migrate"."lease" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"holder" text,
	"kind" text,
	"taken_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"previous_holder" text,
	CONSTRAINT "lease_one_row" CHECK ("sark_migrate"."lease"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "sark_migrate"."run_steps" (
	"run_id" text NOT NULL,
	"step" text NOT NULL,
	"result" jsonb NOT NULL,
	"committed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_steps_run_id_step_pk" PRIMARY KEY("run_id","step")
);
--> statement-breakpoint
CREATE TABLE "sark_migrate"."runs" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"changing" boolean NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cancel_requested_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "sark_migrate"."run_steps" ADD CONSTRAINT "run_steps_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "sark_migrate"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "lease_holder" ON "sark_migrate"."lease" USING btree ("holder");--> statement-breakpoint
-- The lease is one row, free until a changing run takes it.
INSERT INTO "sark_migrate"."lease" ("id") VALUES (1) ON CONFLICT DO NOTHING;