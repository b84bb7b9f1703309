import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../src/adapters/db/pglite.js';
import { makeTestApp } from './support/app.js';
import { renderCliTypes, renderOpenApi } from './support/openapi.js';

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8');
const cliTypes = readFileSync(new URL('../src/cli/api.d.ts', import.meta.url), 'utf8');

describe('the published OpenAPI document', () => {
  it('is current: openapi/openapi.json equals what the routes generate (run `npm run openapi`)', () => {
    expect(committed).toBe(renderOpenApi());
  });

  it("is what the command line's client is typed by: src/cli/api.d.ts equals what it generates (run `npm run openapi`)", async () => {
    expect(cliTypes).toBe(await renderCliTypes(committed));
  });

  it('is what GET /openapi.json serves', async () => {
    const { app } = await makeTestApp(pgliteDatabase(await PGlite.create()));
    expect(await (await app.request('/openapi.json')).json()).toEqual(JSON.parse(committed));
  });

  it('declares bearer security on every operation (Slack signature on the Slack door), optional on /health, and problem+json on every error', () => {
    const doc = JSON.parse(committed);
    for (const [path, item] of Object.entries<
      Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, unknown> }> }>
    >(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const expected = path.startsWith('/chatops/slack')
          ? [{ slackSignature: [] }]
          : path === '/health'
            ? [{}, { bearerAuth: [] }]
            : [{ bearerAuth: path === '/rehearse' ? ['apply'] : [] }]; // the role it needs, where it is not `run`
        expect(op.security, `${method} ${path}`).toEqual(expected);
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400)
            expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual([
              'application/problem+json',
            ]);
        }
      }
    }
  });
});
