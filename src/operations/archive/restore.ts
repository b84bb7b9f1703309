import type { Database, Queryable } from '../../adapters/db/types.js';
import { ServiceError } from '../../errors.js';
import type { RestoreReport, RestoreTable } from '../../reports/restore.js';
import type { RollbackReport } from '../../reports/rollback.js';
import type { Outcome } from '../../reports/schemas.js';
import type { ReportStore } from '../../reports/store.js';
import {
  ARCHIVED_TABLES,
  archivedCountsSql,
  archivePresentSql,
  collisionsSql,
  restoreRowsSql,
  type ArchivedTable,
} from '../../sql/archive.js';
import { queryOne } from '../../sql/sql.js';
import { withLease } from '../lease.js';
import { onceInRun } from '../runs.js';
import { statementsTaking, type OperationContext } from '../runner.js';
import { Sha256 } from './sha256.js';
import type { ArchiveExport } from './export.js';

/**
 * POST /restore: puts the rows a rollback run archived back into v2, every column as it was,
 * from the archive's packs while they hold the run's rows, else from the objects the run
 * exported (each checked against its SHA-256 and row count first). A row whose id v2 already
 * holds refuses the whole restore, naming it, before anything is written. A run holds the
 * lease and writes in one transaction: every row is back, or none.
 */
export interface RestoreInput {
  rollbackReportId: string;
  dryRun: boolean;
}

/** Ids of colliding rows a report (and a 409) names, per table. */
export const COLLISIONS_LISTED = 100;
/** Exported lines inserted (or checked) a statement. */
const LINES_A_BATCH = 1_000;
/** The single transaction's statements may take this long each. */
const LIMITS = { statementTimeoutMs: 600_000, lockTimeoutMs: 5_000 } as const;

type Objects = Pick<ReportStore, 'getObject'>;

export async function restore(
  db: Database,
  input: RestoreInput,
  rollback: RollbackReport,
  objects: Objects,
  ctx: OperationContext<RestoreReport>,
): Promise<Outcome<RestoreReport>> {
  const rollbackId = rollback.archive.rollbackId;
  if (!rollbackId) throw notRestorable(rollback.id, 'it archived nothing');
  const source = await sourceOf(db, rollbackId, rollback);
  // Every check before the first write: a refusal is the request's answer (409), and changes nothing.
  const checked = await check(db, source, rollbackId, objects);
  refuseCollisions(checked.tables, input.dryRun);
  if (input.dryRun) {
    ctx.started();
    return report(input, rollbackId, source.kind, checked, false);
  }
  return withLease(db, ctx, 'restore', async (lease) => {
    ctx.started();
    const restored = await ctx.step(
      'restore',
      () =>
        lease.fenced(
          (tx) =>
            onceInRun(tx, ctx, 'restore', async () => {
              const counts: Record<ArchivedTable, number> = { resources: 0, capabilities: 0 };
              // Resources first: capabilities reference them.
              for (const table of ARCHIVED_TABLES) {
                if (source.kind === 'archive') {
                  const again = await queryOne(tx, collisionsSql(table, { rollbackId }, COLLISIONS_LISTED));
                  refuseCollisions({ ...checked.tables, [table]: tableOf(again) }, false);
                  counts[table] = (await queryOne(tx, restoreRowsSql(table, { rollbackId }))).restored;
                } else {
                  const object = source.exports.find((e) => e.table === table)!;
                  await readExport(objects, object, async (lines) => {
                    counts[table] += (await queryOne(tx, restoreRowsSql(table, { lines }))).restored;
                  });
                }
              }
              return counts;
            }),
          { ...LIMITS, timeZone: 'UTC' },
        ),
      statementsTaking(4, LIMITS.statementTimeoutMs),
    );
    for (const table of ARCHIVED_TABLES) checked.tables[table].restored = restored[table];
    return report(input, rollbackId, source.kind, checked, true);
  });
}

type Source = { kind: 'archive' } | { kind: 'exports'; exports: ArchiveExport[] };

/** The archive's packs when they hold the run's rows (or no export exists), else the run's exports. */
async function sourceOf(db: Queryable, rollbackId: string, rollback: RollbackReport): Promise<Source> {
  const exported = rollback.archive.exportStatus === 'exported' ? (rollback.archive.exports ?? []) : [];
  const present = (await queryOne(db, archivePresentSql())).present;
  if (present) {
    const counts = await queryOne(db, archivedCountsSql(rollbackId));
    if (counts.resources + counts.capabilities > 0 || exported.length === 0) return { kind: 'archive' };
  }
  if (exported.length === ARCHIVED_TABLES.length) return { kind: 'exports', exports: exported };
  throw notRestorable(
    rollback.id,
    present
      ? 'the archive holds none of its rows and it has no complete export'
      : 'the archive tables are gone and it has no complete export',
  );
}

interface Checked {
  tables: Record<ArchivedTable, RestoreTable>;
  verified: { table: string; key: string; rows: number; sha256: string }[];
}

const tableOf = (r: { rows: number; colliding: number; sample: string[] }): RestoreTable => ({
  rows: r.rows,
  restored: 0,
  colliding: r.colliding,
  collisions: r.sample,
});

/** Counts and collisions per table, reading the packs, or every exported line (checking each object as a whole). */
async function check(db: Queryable, source: Source, rollbackId: string, objects: Objects): Promise<Checked> {
  const tables = {} as Record<ArchivedTable, RestoreTable>;
  const verified: Checked['verified'] = [];
  for (const table of ARCHIVED_TABLES) {
    if (source.kind === 'archive') {
      tables[table] = tableOf(await queryOne(db, collisionsSql(table, { rollbackId }, COLLISIONS_LISTED)));
      continue;
    }
    const object = source.exports.find((e) => e.table === table)!;
    const counted: RestoreTable = { rows: 0, restored: 0, colliding: 0, collisions: [] };
    await readExport(objects, object, async (lines) => {
      const batch = await queryOne(db, collisionsSql(table, { lines }, COLLISIONS_LISTED));
      counted.rows += batch.rows;
      counted.colliding += batch.colliding;
      counted.collisions.push(...batch.sample.slice(0, COLLISIONS_LISTED - counted.collisions.length));
    });
    counted.collisions.sort();
    tables[table] = counted;
    verified.push({ table, key: object.key, rows: object.rows, sha256: object.sha256 });
  }
  return { tables, verified };
}

/**
 * An exported object's NDJSON lines, a batch at a time, as it streams (gunzipped, hashed as it
 * passes). Throws `archive-mismatch` at its end when its rows or SHA-256 are not what the
 * rollback report recorded: a restore's writes then roll back with their transaction.
 */
async function readExport(
  objects: Objects,
  object: ArchiveExport,
  batch: (lines: string[]) => Promise<void>,
): Promise<void> {
  const body = await objects.getObject(object.key);
  if (!body) throw mismatch(object, 'is missing from the report store');
  const hash = new Sha256();
  const reader = body
    .pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>)
    .getReader();
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let rest = '';
  let lines: string[] = [];
  let rows = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      const text = rest + decoder.decode(value, { stream: true });
      const parts = text.split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (lines.length === LINES_A_BATCH) {
          rows += lines.length;
          await batch(lines);
          lines = [];
        }
      }
    }
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw mismatch(
      object,
      `does not read as gzip-compressed UTF-8: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  rest += decoder.decode();
  if (rest !== '') throw mismatch(object, 'does not end with a newline (cut short?)');
  if (lines.length > 0) {
    rows += lines.length;
    await batch(lines);
  }
  const sha256 = hash.hex();
  if (sha256 !== object.sha256 || rows !== object.rows)
    throw mismatch(
      object,
      `holds ${rows} rows with SHA-256 ${sha256}, not the ${object.rows} rows with ${object.sha256} recorded`,
    );
}

function refuseCollisions(tables: Record<ArchivedTable, RestoreTable>, dryRun: boolean): void {
  if (dryRun) return; // a dry run lists them
  const colliding = ARCHIVED_TABLES.filter((t) => tables[t].colliding > 0);
  if (colliding.length === 0) return;
  const named = colliding.map(
    (t) =>
      `${tables[t].colliding} in ${t} (${tables[t].collisions.slice(0, 10).join(', ')}${tables[t].colliding > 10 ? ', ...' : ''})`,
  );
  throw new ServiceError(
    'constraint-violation',
    `Restoring would collide with rows v2 already holds under the same id: ${named.join('; ')}. Nothing was restored; remove or rename those rows, or leave them.`,
    {
      facts: {
        collisions: Object.fromEntries(
          colliding.map((t) => [t, { colliding: tables[t].colliding, ids: tables[t].collisions }]),
        ),
      },
    },
  );
}

function report(
  input: RestoreInput,
  rollbackId: string,
  source: Source['kind'],
  checked: Checked,
  applied: boolean,
): Outcome<RestoreReport> {
  const { tables } = checked;
  const rows = tables.resources.rows + tables.capabilities.rows;
  const colliding = tables.resources.colliding + tables.capabilities.colliding;
  const what = `${tables.resources.rows} resources and ${tables.capabilities.rows} capabilities`;
  const message = applied
    ? `Restored ${what} from the ${source === 'archive' ? 'archive' : 'exported objects'} of rollback ${input.rollbackReportId}.`
    : colliding > 0
      ? `Would refuse: ${colliding} of the ${rows} archived rows collide with rows v2 holds (tables.*.collisions); nothing would be restored.`
      : `Would restore ${what} from the ${source === 'archive' ? 'archive' : 'exported objects'}; no row collides.`;
  return {
    status: 'succeeded',
    summary: { message, restored: applied || colliding === 0 ? rows : 0, colliding },
    dryRun: input.dryRun,
    rollbackReportId: input.rollbackReportId,
    rollbackId,
    source,
    tables,
    verified: checked.verified,
  };
}

const notRestorable = (reportId: string, why: string) =>
  new ServiceError('schema-conflict', `Rollback ${reportId} cannot be restored: ${why}.`, {
    facts: { rollbackReportId: reportId },
  });

const mismatch = (object: ArchiveExport, what: string) =>
  new ServiceError('archive-mismatch', `The exported object ${object.key} ${what}: nothing was restored.`, {
    facts: { key: object.key, rows: object.rows, sha256: object.sha256 },
  });
