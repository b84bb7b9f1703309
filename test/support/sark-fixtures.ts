import { readFileSync } from 'node:fs';
import type { Queryable } from '../../src/adapters/db/types.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/sark/${name}`, import.meta.url), 'utf8');

/** Runs one of SARK's own DDL files (test/fixtures/sark/) statement by statement. */
export async function runSarkDdl(
  db: Queryable,
  name: 'v2_schema.sql' | 'v1_schema.sql' | 'v1_schema_migration_shape.sql',
): Promise<void> {
  const lines = fixture(name)
    .replace(/^--.*$/gm, '')
    .replace(/CREATE EXTENSION IF NOT EXISTS pgcrypto;/, '') // gen_random_uuid is core since PostgreSQL 13
    .split('\n');
  // A statement ends at a line ending in ';' outside a $$ body.
  let statement = '';
  for (const line of lines) {
    statement += `${line}\n`;
    if (line.trimEnd().endsWith(';') && (statement.split('$$').length - 1) % 2 === 0) {
      if (statement.trim()) await db.query(statement.trim().replace(/;$/, ''));
      statement = '';
    }
  }
  if (statement.trim()) await db.query(statement.trim());
}

const V2 = ['resources', 'capabilities', 'federation_nodes', 'cost_tracking', 'principal_budgets'];

/** Columns (with types, nullability, defaults), indexes and foreign keys of the given tables, for comparing two databases. */
export async function describeSchema(db: Queryable, tables: string[] = V2) {
  const columns = await db.query(
    `SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, is_nullable,
            regexp_replace(coalesce(column_default, ''), '::[a-z ]+', '', 'g') AS column_default
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ANY($1::text[])
      ORDER BY table_name, column_name`,
    [tables],
  );
  const indexes = await db.query(
    `SELECT c.relname AS table_name, am.amname AS method, pg_get_expr(i.indpred, i.indrelid) AS predicate, i.indisunique AS is_unique,
            array_to_string(array(SELECT pg_get_indexdef(i.indexrelid, k + 1, true) FROM generate_subscripts(i.indkey, 1) k ORDER BY k), ',') AS keys,
            CASE WHEN i.indisprimary OR i.indisunique THEN '' ELSE x.relname END AS index_name
       FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_am am ON am.oid = x.relam JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])
      ORDER BY 1, 5, 6`,
    [tables],
  );
  const foreignKeys = await db.query(
    `SELECT conrelid::regclass::text AS table_name, confrelid::regclass::text AS references, confdeltype AS on_delete,
            array_to_string(array(SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY(conkey)), ',') AS columns
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY($1::text[]) ORDER BY 1, 4`,
    [tables],
  );
  return { columns: columns.rows, indexes: indexes.rows, foreignKeys: foreignKeys.rows };
}
