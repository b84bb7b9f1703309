/** One migration of drizzle/, as scripts/bundle-migrations.ts carries it into the Worker. */
export interface BundledMigration {
  tag: string;
  hash: string;
  /**
   * `v2`: SARK's own v2 tables, which /migrate's schema phase creates (or adopts).
   * `service`: the service's own schema (sark_migrate: the rollback archive), applied where
   * the service starts (src/db/service-migrations.ts), never by an operation.
   */
  target: 'v2' | 'service';
  /** Tables the migration creates, so a database that already has them all can adopt it. */
  createsTables: string[];
  statements: string[];
}
