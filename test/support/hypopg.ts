import type { TestDatabase } from './databases.js';

/**
 * Installs HypoPG in the suite's database where the server has it (real PostgreSQL; PGlite has
 * none), and says whether it did. CI installs postgresql-15-hypopg, so there its absence is a
 * failure, not a skip.
 */
export async function installHypopg(t: TestDatabase): Promise<boolean> {
  if (!t.url) return false;
  const available =
    (await t.admin.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'`)).rows.length > 0;
  if (!available && process.env.CI)
    throw new Error('HypoPG is not available on the test PostgreSQL: install postgresql-15-hypopg');
  if (available) await t.admin.query('CREATE EXTENSION IF NOT EXISTS hypopg');
  return available;
}
