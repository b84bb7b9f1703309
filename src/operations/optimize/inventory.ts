import type { Queryable } from '../../adapters/db/types.js';
import { V2_TABLES } from '../../sql/catalog.js';
import type { ForeignKeyEntry, IndexEntry, IndexFlag, TableEntry } from '../../reports/optimization.js';
import { indexInventorySql, statsSinceSql, tableStatsSql, unindexedForeignKeysSql } from '../../sql/optimize.js';
import { queryRows } from '../../sql/sql.js';
import { VIEW_NAMES } from '../../sql/views.js';

export interface Inventory {
  indexes: IndexEntry[];
  tables: TableEntry[];
  foreignKeysWithoutIndex: ForeignKeyEntry[];
  statsSince: string | null;
}

const isoOrNull = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

/** Every index of the v2 tables with its flags, the tables' sizes and statistics, foreign keys without an index. */
export async function inventory(db: Queryable): Promise<Inventory> {
  // The materialized views /optimize built are listed beside the tables they are read instead of.
  const tables = [...V2_TABLES, ...VIEW_NAMES];
  const indexes = (await queryRows(db, indexInventorySql(tables))).map((i): IndexEntry => {
    const enforces = i.unique || i.primary || i.constraint !== null; // it keeps data correct, whatever its use
    const flags: IndexFlag[] = [
      ...(!i.valid ? (['invalid'] as const) : []),
      ...(Number(i.scans) === 0 && !enforces ? (['unused'] as const) : []),
      ...(i.duplicateOf && !enforces ? (['duplicate'] as const) : []),
    ];
    return {
      ...i,
      predicate: i.predicate || null,
      sizeBytes: Number(i.sizeBytes),
      scans: Number(i.scans),
      duplicateOf: enforces ? null : i.duplicateOf,
      flags,
    };
  });
  const tableEntries = (await queryRows(db, tableStatsSql(tables))).map((t): TableEntry => ({
    table: t.table,
    totalBytes: Number(t.totalBytes),
    tableBytes: Number(t.tableBytes),
    indexBytes: Number(t.indexBytes),
    liveRows: Number(t.liveRows),
    estimatedRows: Number(t.estimatedRows),
    seqScans: Number(t.seqScans),
    indexScans: Number(t.indexScans),
    writes: Number(t.writes),
    lastAnalyzed: isoOrNull(t.lastAnalyzed),
    flags: t.lastAnalyzed === null ? ['never analyzed'] : [],
  }));
  const foreignKeysWithoutIndex = await queryRows(db, unindexedForeignKeysSql([...V2_TABLES]));
  const [stats] = await queryRows(db, statsSinceSql());
  return { indexes, tables: tableEntries, foreignKeysWithoutIndex, statsSince: isoOrNull(stats?.statsSince ?? null) };
}

export const flagged = (inv: Inventory, flag: IndexFlag) =>
  inv.indexes.filter((i) => i.flags.includes(flag)).map((i) => i.name);
