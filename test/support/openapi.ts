import { apiDocument } from '../../src/app.js';

/** openapi/openapi.json as `npm run openapi` writes it. */
export function renderOpenApi(): string {
  return `${JSON.stringify(apiDocument(), null, 2)}\n`;
}
