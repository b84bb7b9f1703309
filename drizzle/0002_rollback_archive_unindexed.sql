DROP INDEX IF EXISTS "sark_migrate"."ix_archived_capabilities_rollback";--> statement-breakpoint
DROP INDEX IF EXISTS "sark_migrate"."ix_archived_resources_rollback";