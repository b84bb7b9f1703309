import type { Database } from '../db/types.js';

/**
 * Throwaway copies of the SARK database, for a rehearsal (POST /rehearse): one implementation
 * per runtime (a PostgreSQL TEMPLATE copy, a PGlite clone, a Neon branch), picked by the entry
 * point. A copy is never the database itself, and it is made from nothing a request says: its
 * name is the service's (a prefix and the rehearsal's report id).
 */
export interface DatabaseCopy {
  /** The copy, opened with connections of its own. */
  db: Database;
  /** Its name where it lives: a database name, a Neon branch name. */
  name: string;
  /** How an operator reaches a kept copy, without any credential (no URL, no password). */
  reach: string;
  /** Closes the copy's connections and removes it; safe to call twice. */
  drop(): Promise<void>;
}

export interface CopyProvider {
  /** How copies are made: for the report. */
  readonly method: 'template' | 'pglite-clone' | 'neon-branch';
  /** Whether a copy can outlive the rehearsal (`keep: true`): not an in-memory clone. */
  readonly canKeep: boolean;
  /**
   * Makes a copy named `name` (lowercase letters, digits, `_`), or throws why not
   * (`copy-refused`: other sessions on the source, the provider's API refused). Leaves nothing
   * behind when it throws.
   */
  create(name: string): Promise<DatabaseCopy>;
}

/** A copy's name: only what the service generates is accepted. */
export const COPY_NAME = /^[a-z][a-z0-9_]{0,62}$/;
