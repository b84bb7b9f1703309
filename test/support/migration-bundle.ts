import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SERVICE_SCHEMA } from '../../src/sql/catalog.js';

const root = new URL('../../drizzle/', import.meta.url);

interface Journal {
  entries: { idx: number; tag: string }[];
}

/** The TypeScript module holding drizzle/'s migrations, exactly as the bundle script writes it. */
export function renderMigrationBundle(): string {
  const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', root), 'utf8')) as Journal;
  const migrations = journal.entries
    .sort((a, b) => a.idx - b.idx)
    .map(({ tag }) => {
      const sql = readFileSync(new URL(`${tag}.sql`, root), 'utf8');
      const statements = sql
        .split('--> statement-breakpoint')
        .map((s) => s.trim())
        .filter(Boolean)
        // The migrator makes the service's schema (for its ledger) before any migration runs.
        .map((s) => s.replace(/^CREATE SCHEMA "/, 'CREATE SCHEMA IF NOT EXISTS "'));
      const createsTables = [...sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?"(?:([^"]+)"\.")?([^"]+)"/g)].map((m) =>
        m[1] ? `${m[1]}.${m[2]}` : m[2]!,
      );
      // Every statement of a service migration names the service's schema; a v2 migration's never does.
      const target = statements.every((s) => s.includes(`"${SERVICE_SCHEMA}"`)) ? 'service' : 'v2';
      return { tag, hash: createHash('sha256').update(sql).digest('hex'), target, createsTables, statements };
    });
  return `// Generated from drizzle/ by scripts/bundle-migrations.ts (npm run db:generate). Do not edit.
import type { BundledMigration } from './bundled-migration.js';

export const MIGRATIONS: readonly BundledMigration[] = ${JSON.stringify(migrations, null, 2)};
`;
}
