import pkg from '../../package.json' with { type: 'json' };
import type { AppRouter } from './create-router.js';

export const VERSION: string = pkg.version;

const DESCRIPTION = `Runs SARK's v1.x → v2.0 database migration as an HTTP API: migrate, validate, benchmark,
optimize and roll back with set-based SQL, each answering a JSON report that is also stored.

Authenticate with \`Authorization: Bearer <token>\`. Scopes: \`read\` (reports), \`run\` (read-only
operations and dry runs), \`apply\` (operations that change the database; implies \`run\`).
Every error is \`application/problem+json\` (RFC 9457).`;

/** Registers what the routes share and returns the OpenAPI 3.1 document of the app. */
export function openApiDocument(app: AppRouter) {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token; its SHA-256 and scopes are listed in `API_TOKENS`. `npm run token` makes one.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'slackSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Slack-Signature',
    description:
      "Slack's request signature with `SLACK_SIGNING_SECRET`, over `X-Slack-Request-Timestamp` and the raw body (docs/slack.md).",
  });
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'sark-migrate',
      version: VERSION,
      description: DESCRIPTION,
      license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
    },
    servers: [{ url: '/', description: 'This service' }],
    tags: [
      { name: 'Service', description: 'Health of the service and its dependencies.' },
      {
        name: 'Operations',
        description: 'Migrate, validate, benchmark, optimize and roll back; each answers its report and stores it.',
      },
      { name: 'Reports', description: 'Reports stored by every operation.' },
      { name: 'MCP', description: 'The same operations as Model Context Protocol tools, for assistants and agents.' },
      { name: 'Chatops', description: 'The Slack slash command `/sark` and its buttons (docs/slack.md).' },
    ],
  });
}
