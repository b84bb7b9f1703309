import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import './test/workers/context.js';

// The suite runs offline: no usage metrics, no request.cf lookup at Miniflare start.
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

/**
 * The Workers suite: tests run inside workerd against the real Worker (wrangler.toml's main
 * and its local R2 bucket). test/workers/global-setup.ts (Node) starts the database and the
 * WebSocket proxy; tests get their addresses with inject('sarkWorkers').
 */
export default defineConfig({
  plugins: [
    // The Workflow (RunWorkflow) reads its database from its own bindings, not a request's: the
    // ones the global setup made, as `wrangler secret put` would set them.
    cloudflareTest(({ inject }) => {
      const provided = inject('sarkWorkers');
      return {
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            DATABASE_URL: provided.databaseUrl,
            WS_PROXY: provided.wsProxy,
            API_TOKENS: provided.apiTokens,
            SLACK_SIGNING_SECRET: provided.slackSigningSecret,
            SLACK_PRINCIPALS: provided.slackPrincipals,
            // The receiver playing Slack's response_url listens on 127.0.0.1.
            NOTIFY_ALLOW_PRIVATE: 'true',
            // Signs `notify` notifications (Standard Webhooks), as `wrangler secret put` sets it.
            NOTIFY_SECRET: provided.notifySecret,
            // Signs the dashboard's session cookies (a secret, as `wrangler secret put` sets it).
            DASHBOARD_SECRET: 'workers-suite-dashboard-secret-0123456789abcdef',
          },
        },
      };
    }),
  ],
  test: {
    name: 'workers',
    include: ['test/workers/**/*.test.ts'],
    globalSetup: ['test/workers/global-setup.ts'],
    // The files share one database and the service's advisory lock: one file at a time.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
