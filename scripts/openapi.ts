/** Writes openapi/openapi.json from the routes (`npm run openapi`); a test fails when it drifts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderOpenApi } from '../test/support/openapi.js';

mkdirSync(new URL('../openapi/', import.meta.url), { recursive: true });
writeFileSync(new URL('../openapi/openapi.json', import.meta.url), renderOpenApi());
console.log('wrote openapi/openapi.json');
