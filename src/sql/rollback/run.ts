import type { Mapping } from '../../mapping/mapping.js';
import { Params, sql, type Sql } from '../sql.js';
import { rollbackFragments } from './fragments.js';
import type { Scope } from './plan.js';

/** SQL of a rollback run as a whole: what it reads before its batches and after them. */

/**
 * Settings of a rollback's transactions, in one statement. The planner has no statistics
 * for `id::text`, so it picks merge joins that sort a million ids under the collation;
 * every join here is an id equality, which a hash join does in one pass. work_mem keeps
 * the hash of the removal set in one batch. JIT compiles each big statement for ~50 ms
 * and saves nothing on joins. The archive's packs compress with lz4 where the server has it
 * (several times faster than pglz, PostgreSQL's default).
 */
export const settingsSql = () =>
  sql(`SELECT set_config('enable_mergejoin', 'off', true), set_config('work_mem', '32MB', true), set_config('jit', 'off', true),
       (SELECT set_config(name, 'lz4', true) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`);

/** The resources table's pages now, and the resources in scope: a run's batches are ranges of these pages. */
export function extentSql(m: Mapping, { resourceIds }: Scope): Sql<{ pages: number; in_scope: number }> {
  const p = new Params();
  const inScope = rollbackFragments(m).inScope(p.bind(resourceIds, 'text[]'));
  return sql(
    `SELECT (pg_relation_size('resources') / current_setting('block_size')::int)::int AS pages, (SELECT count(*)::int FROM resources r WHERE ${inScope}) AS in_scope`,
    p.values,
  );
}

/** A validated foreign key from capabilities to resources: then no capability can be an orphan. */
export const foreignKeySql = () =>
  sql<{ holds: boolean }>(`SELECT coalesce(bool_or(convalidated), false) AS holds
  FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass('capabilities') AND confrelid = to_regclass('resources')`);

/** The MCP resources in scope still in v2 (a run's end: born ones that stay, and any changed or added during the run). */
export function remainingSql(m: Mapping, { resourceIds }: Scope): Sql<{ remaining: number }> {
  const p = new Params();
  const inScope = rollbackFragments(m).inScope(p.bind(resourceIds, 'text[]'));
  return sql(`SELECT count(*)::int AS remaining FROM resources r WHERE ${inScope}`, p.values);
}

/** Capabilities of v1 origin whose resource is gone, archived as they are deleted (a run over every resource). */
export function archiveOrphansSql(m: Mapping, { rollbackId }: { rollbackId: string }): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(f.archive('capabilities', `DELETE FROM capabilities r WHERE ${f.orphanOfV1}`, id), p.values);
}
