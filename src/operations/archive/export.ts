import type { Queryable } from '../../adapters/db/types.js';
import type { ReportStore } from '../../reports/store.js';
import { ARCHIVED_TABLES, exportPageSql, type ArchivedTable } from '../../sql/archive.js';
import { queryRows } from '../../sql/sql.js';
import { Sha256 } from './sha256.js';

/**
 * The rollback archive out of the database: each archived table of a run as one object of
 * gzip-compressed NDJSON in the report store, written as it streams (a page of packs in memory
 * at a time, whatever the run removed). docs/restore.md describes the format.
 */

/** An exported table: its object, rows, the object's size, and the SHA-256 of its NDJSON (uncompressed). */
export interface ArchiveExport {
  table: ArchivedTable;
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** Packs read a page: 2,000 rows at most. */
const PAGE_PACKS = 10;

export const exportKey = (rollbackId: string, table: ArchivedTable) => `archives/${rollbackId}/${table}.ndjson.gz`;

/** A run's archived rows of one table as NDJSON bytes, a page at a time as the reader pulls, hashed as they pass. */
function ndjsonOf(db: Queryable, rollbackId: string, table: ArchivedTable) {
  const encoder = new TextEncoder();
  const hash = new Sha256();
  const counted = { rows: 0, sha256: '' };
  let after = '(0,0)';
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const page = await queryRows(db, exportPageSql(table, { rollbackId, after, packs: PAGE_PACKS }));
        if (page.length === 0) {
          counted.sha256 = hash.hex();
          controller.close();
          return;
        }
        after = page.at(-1)!.pack;
        const bytes = encoder.encode(page.map((r) => `${r.line}\n`).join(''));
        hash.update(bytes);
        counted.rows += page.length;
        controller.enqueue(bytes);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counted };
}

/** Exports one table of a run's archive; throws if the store or the database fails (nothing then names the object). */
export async function exportTable(
  db: Queryable,
  store: Pick<ReportStore, 'putObject'>,
  rollbackId: string,
  table: ArchivedTable,
): Promise<ArchiveExport> {
  const key = exportKey(rollbackId, table);
  const { stream, counted } = ndjsonOf(db, rollbackId, table);
  const gzipped = stream.pipeThrough(
    new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  const { bytes } = await store.putObject(key, gzipped, { rollbackId, table, format: 'ndjson+gzip' });
  return { table, key, rows: counted.rows, bytes, sha256: counted.sha256 };
}

/** What the export of a run's archive came to, for its report. */
export type ExportOutcome =
  | { exportStatus: 'exported'; exports: ArchiveExport[] }
  | { exportStatus: 'failed'; exports: ArchiveExport[]; exportError: string };

/**
 * Every archived table of a run, each a step of its own (a Workflow records it). A failure
 * is the report's to say: the rollback committed, and its archive is still in the database.
 */
export async function exportArchive(
  db: Queryable,
  store: Pick<ReportStore, 'putObject'>,
  rollbackId: string,
  step: <T>(name: string, work: () => Promise<T>) => Promise<T>,
): Promise<ExportOutcome> {
  const exports: ArchiveExport[] = [];
  for (const table of ARCHIVED_TABLES) {
    try {
      exports.push(await step(`export ${table}`, () => exportTable(db, store, rollbackId, table)));
    } catch (error) {
      const said = error instanceof Error ? error.message : String(error);
      return { exportStatus: 'failed', exports, exportError: `the export of ${table} failed: ${said}` };
    }
  }
  return { exportStatus: 'exported', exports };
}
