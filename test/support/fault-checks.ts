import type { Queryable } from '../../src/adapters/db/types.js';

/**
 * What the fault trials (test/faults.test.ts) check after a run whose connections were cut,
 * read on a direct connection: the lease, v1 untouched, and the rollback archive against what
 * v2 held before.
 */

export interface LeaseState {
  holder: string | null;
  /** Milliseconds until it expires by the server's clock (negative: expired); null when free. */
  leftMs: number | null;
}

export async function leaseState(db: Queryable): Promise<LeaseState> {
  const { rows } = await db.query<{ holder: string | null; left_ms: number | null }>(
    `SELECT holder, (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::int AS left_ms FROM sark_migrate.lease WHERE id = 1`,
  );
  return { holder: rows[0]!.holder, leftMs: rows[0]!.left_ms };
}

/** A fingerprint of both v1 tables, row for row. */
export async function v1Checksum(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ servers: string; tools: string }>(
    `SELECT (SELECT md5(string_agg(s::text, ',' ORDER BY s.id)) FROM mcp_servers s) AS servers,
            (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM mcp_tools t) AS tools`,
  );
  return `${rows[0]!.servers}/${rows[0]!.tools}`;
}

const RESOURCE_COLUMNS = 'id, name, protocol, endpoint, sensitivity_level, metadata, created_at, updated_at';
const CAPABILITY_COLUMNS =
  'id, resource_id, name, description, input_schema, output_schema, sensitivity_level, metadata';

export type RowsDigest = {
  resources: number;
  capabilities: number;
  /** Distinct ids: equal to the counts unless a row is there twice. */
  distinctResources: number;
  distinctCapabilities: number;
  resourcesMd5: string | null;
  capabilitiesMd5: string | null;
};

async function digest(db: Queryable, resources: string, capabilities: string): Promise<RowsDigest> {
  const { rows } = await db.query<RowsDigest>(
    `SELECT (SELECT count(*)::int FROM ${resources}) AS resources,
            (SELECT count(*)::int FROM ${capabilities}) AS capabilities,
            (SELECT count(DISTINCT id)::int FROM ${resources}) AS "distinctResources",
            (SELECT count(DISTINCT id)::int FROM ${capabilities}) AS "distinctCapabilities",
            (SELECT md5(string_agg(ROW(${RESOURCE_COLUMNS})::text, ',' ORDER BY id)) FROM ${resources}) AS "resourcesMd5",
            (SELECT md5(string_agg(ROW(${CAPABILITY_COLUMNS})::text, ',' ORDER BY id)) FROM ${capabilities}) AS "capabilitiesMd5"`,
  );
  return rows[0]!;
}

/** The MCP resources of v2 and their capabilities, row for row. */
export const v2Digest = (db: Queryable) =>
  digest(
    db,
    `(SELECT * FROM resources WHERE protocol = 'mcp') r`,
    `(SELECT c.* FROM capabilities c JOIN resources r ON r.id = c.resource_id AND r.protocol = 'mcp') c`,
  );

/** Everything the rollback archive holds (the trials empty it before each rollback). */
export const archiveDigest = (db: Queryable) =>
  digest(db, 'sark_migrate.archived_resources', 'sark_migrate.archived_capabilities');

export const emptyArchive = (db: Queryable) =>
  db.query('TRUNCATE sark_migrate.archived_resource_packs, sark_migrate.archived_capability_packs');

/**
 * Mid-rollback: every v1 server and tool is in exactly one of v2 and the archive (a row in
 * both, or in neither, is counted), and nothing is archived twice.
 */
export async function notExactlyOnce(db: Queryable): Promise<{ servers: number; tools: number; twice: number }> {
  const { rows } = await db.query<{ servers: number; tools: number; twice: number }>(
    `SELECT
       (SELECT count(*)::int FROM mcp_servers s
          LEFT JOIN resources r ON r.id = s.id::text
          LEFT JOIN (SELECT DISTINCT id FROM sark_migrate.archived_resources) a ON a.id = s.id::text
         WHERE (r.id IS NULL) = (a.id IS NULL)) AS servers,
       (SELECT count(*)::int FROM mcp_tools t
          LEFT JOIN capabilities c ON c.id = t.id::text
          LEFT JOIN (SELECT DISTINCT id FROM sark_migrate.archived_capabilities) a ON a.id = t.id::text
         WHERE (c.id IS NULL) = (a.id IS NULL)) AS tools,
       (SELECT count(*)::int - count(DISTINCT id)::int FROM sark_migrate.archived_resources)
         + (SELECT count(*)::int - count(DISTINCT id)::int FROM sark_migrate.archived_capabilities) AS twice`,
  );
  return rows[0]!;
}
