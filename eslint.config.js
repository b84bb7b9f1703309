// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.wrangler/',
      '.sark-migrate/',
      'drizzle/',
      'openapi/',
      'src/db/migrations.bundle.ts',
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
    files: ['test/**', 'scripts/**', '*.config.ts', 'src/entry.node.ts', 'src/**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
