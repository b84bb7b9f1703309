import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { apiDocument } from '../../src/app.js';

/** openapi/openapi.json as `npm run openapi` writes it. */
export function renderOpenApi(): string {
  return `${JSON.stringify(apiDocument(), null, 2)}\n`;
}

/**
 * src/cli/api.d.ts as `npm run openapi` writes it: the command line's types, generated from the
 * published document, so the CLI cannot call what the API no longer has.
 */
export async function renderCliTypes(document: string): Promise<string> {
  // A field with a default may be left out of a request: it stays optional.
  const ast = await openapiTS(JSON.parse(document), { silent: true, defaultNonNullable: false });
  return `${COMMENT_HEADER}${astToString(ast)}`;
}
