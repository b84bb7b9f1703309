import { defineConfig } from 'vitest/config';

// The Node suites: PGlite always; real PostgreSQL through pg and the Neon driver when
// TEST_DATABASE_URL is set. The workerd suite has its own config (vitest.workers.config.ts).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/workers/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
