import type { PGlite } from '@electric-sql/pglite';
import { pgliteDatabase } from '../db/pglite.js';
import { COPY_NAME, type CopyProvider } from './types.js';

/**
 * The embedded database: PGlite's clone(), a second PGlite in this process's memory holding
 * the same data. It lives only as long as the process and no other client can reach it, so a
 * copy is never kept.
 */
export function pgliteCopies(source: PGlite): CopyProvider {
  return {
    method: 'pglite-clone',
    canKeep: false,
    async create(name) {
      if (!COPY_NAME.test(name)) throw new Error(`not a copy name the service makes: ${name}`);
      // clone() returns the interface type; the instance is a PGlite like its source.
      const db = pgliteDatabase((await source.clone()) as PGlite);
      return {
        db,
        name,
        reach: "a PGlite clone in the service process's memory: no client can reach it, and it goes with the process",
        drop: () => db.close(),
      };
    },
  };
}
