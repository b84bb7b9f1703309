import { readFile } from 'node:fs/promises';

/**
 * The API reference's browser bundle (@scalar/api-reference's standalone.js), read from the
 * installed package, so /docs needs no CDN. Read once, at the first request for it. On Workers
 * the bundle is imported as a text module instead (entry.worker.ts).
 */
let script: Promise<string> | undefined;
export function readApiReferenceScript(): Promise<string> {
  // The package's exports name no path for the bundle: it sits beside its entry module.
  script ??= readFile(new URL('./browser/standalone.js', import.meta.resolve('@scalar/api-reference')), 'utf8');
  return script;
}
