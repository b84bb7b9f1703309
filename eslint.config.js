// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers (test/architecture.test.ts proves these rules fire, and that no import cycle exists):
 * - the HTTP layer: src/app.ts, src/http/, src/routes/, src/dashboard/; the only code that knows statuses and Hono;
 * - the core: operations, the mapping, SQL, measurements, reports, the service's schema, errors;
 * - the adapters: src/adapters/ (drivers and stores behind the ports in adapters/<kind>/types.ts);
 * - the entry points (entry.node.ts, entry.worker.ts, env.ts), which put the others together;
 * - the command line, src/cli/: a client of the HTTP API only, importing nothing else of src/.
 */
const CORE = [
  'src/operations/**',
  'src/mapping/**',
  'src/sql/**',
  'src/measure/**',
  'src/reports/**',
  'src/db/**',
  'src/demo/**',
  'src/notify/**',
  'src/errors.ts',
];

const http = {
  group: ['hono', 'hono/*', '@hono/*', '@scalar/*', '**/http/*', '**/routes/**', '**/app.js'],
  message: 'The HTTP layer (Hono, src/http/, src/routes/) is not imported from here.',
};
const drivers = {
  group: ['pg', 'pg-protocol', '@neondatabase/*', '@electric-sql/*', 'ws'],
  message: 'Drivers are used by the adapters only.',
};
const adapterImplementations = {
  group: ['**/adapters/*/*', '!**/adapters/*/types.js'],
  message:
    'Only the ports (src/adapters/<kind>/types.ts) are imported from here; the entry points pick implementations.',
};
const entries = {
  group: ['**/entry.*', '**/env.js'],
  message: 'The entry points put the layers together; nothing imports them.',
};
const operations = { group: ['**/operations/**'], message: 'This layer sits below the operations.' };
const sql = { group: ['**/sql/**'], message: 'Routes call operations; SQL stays in the core.' };
const cliMessage = 'The command line only calls the HTTP API (src/cli/api.d.ts): it imports nothing of the service.';
const outsideCli = { regex: '^\\.\\./', message: cliMessage };
const service = { group: ['hono', 'hono/*', '@hono/*', 'zod', 'zod/*'], message: cliMessage };

const layer = (files, ...patterns) => ({
  files,
  ignores: ['src/**/*.test.ts'],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.wrangler/',
      '.sark-migrate/',
      '.ci/',
      'drizzle/',
      'openapi/',
      'src/db/migrations.bundle.ts',
      'src/cli/api.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration in src/env.ts only.' },
      ],
    },
  },
  {
    // Outside src/, scripts and tests read the environment they run in.
    files: ['test/**', 'scripts/**', 'bin/**', '*.config.ts', 'src/entry.node.ts', 'src/**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  // Later entries win for the files they match: the narrower layers come after the wider.
  layer(CORE, http, drivers, adapterImplementations, entries),
  layer(['src/mapping/**', 'src/sql/**'], http, drivers, adapterImplementations, entries, operations),
  layer(
    ['src/routes/**', 'src/http/**', 'src/dashboard/**', 'src/app.ts'],
    drivers,
    adapterImplementations,
    entries,
    sql,
  ),
  layer(['src/adapters/**'], http, entries, operations),
  layer(['src/cli/**'], outsideCli, service, drivers),
);
