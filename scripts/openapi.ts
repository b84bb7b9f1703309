/**
 * Writes openapi/openapi.json from the routes, and src/cli/api.d.ts (the command line's client
 * types) from it (`npm run openapi`); tests fail when either drifts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderCliTypes, renderOpenApi } from '../test/support/openapi.js';

const document = renderOpenApi();
mkdirSync(new URL('../openapi/', import.meta.url), { recursive: true });
writeFileSync(new URL('../openapi/openapi.json', import.meta.url), document);
console.log('wrote openapi/openapi.json');
writeFileSync(new URL('../src/cli/api.d.ts', import.meta.url), await renderCliTypes(document));
console.log('wrote src/cli/api.d.ts');
