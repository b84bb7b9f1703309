/**
 * Bundles drizzle/ into src/db/migrations.bundle.ts so the Worker, which has no filesystem,
 * carries its migrations. Run by `npm run db:generate`; a test fails when the bundle drifts.
 */
import { writeFileSync } from 'node:fs';
import { renderMigrationBundle } from '../test/support/migration-bundle.js';

writeFileSync(new URL('../src/db/migrations.bundle.ts', import.meta.url), renderMigrationBundle());
console.log('wrote src/db/migrations.bundle.ts');
