import type { Database } from '../../src/adapters/db/types.js';

/**
 * An md5 of every table of SARK's schema and the service's own (the ledger, the lease, the
 * rollback archive), of the index definitions, and the count of changing runs: what no refused or
 * read-only request may change. The runs and their steps are left out, as every run (a dry run
 * too) is recorded there.
 */
export async function tableChecksums(db: Pick<Database, 'query'>): Promise<Record<string, string>> {
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'sark_migrate')
        AND (n.nspname, c.relname) NOT IN (('sark_migrate', 'runs'), ('sark_migrate', 'run_steps'))
      ORDER BY 1`,
  );
  const sums: Record<string, string> = {};
  for (const { name } of tables) {
    // `name` comes from the catalogue, quoted by format('%I'): never from input.
    const { rows } = await db.query<{ sum: string }>(
      `SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS sum FROM ${name} t`,
    );
    sums[name] = rows[0]!.sum;
  }
  const { rows: indexes } = await db.query<{ sum: string }>(
    `SELECT md5(string_agg(indexdef, E'\\n' ORDER BY indexdef)) AS sum
       FROM pg_indexes WHERE schemaname IN ('public', 'sark_migrate')`,
  );
  sums['(index definitions)'] = indexes[0]!.sum;
  const { rows: changing } = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM sark_migrate.runs WHERE changing`,
  );
  sums['(changing runs)'] = changing[0]!.n;
  return sums;
}

/** The names whose checksum differs between two takes: what a test names when it fails. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => before[name] !== after[name]).sort();
}
