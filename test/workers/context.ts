/** What the Workers suite's global setup (Node) hands to the tests (workerd) through inject(). */
export interface WorkersTestContext {
  /** A seeded SARK database: v1 schema and data, and the v2 tables. */
  databaseUrl: string;
  /** ws:// URL of the WebSocket-to-TCP proxy the Neon driver reaches it through. */
  wsProxy: string;
  /** The API_TOKENS binding: entries for readToken, runToken and adminToken. */
  apiTokens: string;
  /** A plain bearer token with scope `read`. */
  readToken: string;
  /** A plain bearer token with scope `run` only. */
  runToken: string;
  /** A plain bearer token with every scope. */
  adminToken: string;
  /** A TCP port of 127.0.0.1 that nothing listens on (a database that is down). */
  closedPort: number;
  /** The database is a real PostgreSQL (TEST_DATABASE_URL), not PGlite: one backend per connection. */
  realPostgres: boolean;
  /** SLACK_SIGNING_SECRET of the Worker under test. */
  slackSigningSecret: string;
  /** SLACK_PRINCIPALS: team T0WORKERS, user URUN with read and run, user UAPPLY with read and apply. */
  slackPrincipals: string;
  /** A receiver on 127.0.0.1 (test/support/receiver.ts) playing Slack's response_url; GET a path for what it got. */
  receiverUrl: string;
  /** NOTIFY_SECRET of the Worker under test (`whsec_` and base64 of 32 random bytes). */
  notifySecret: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sarkWorkers: WorkersTestContext;
  }
}
