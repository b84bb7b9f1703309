import type { PGlite, Transaction } from '@electric-sql/pglite';
import { databaseUnavailable, lockBusy } from '../../errors.js';
import { translateDriverError } from './errors.js';
import { timeQuery } from './timing.js';
import { applyTransactionOptions } from './session.js';
import type { Database, Queryable, Row, Session } from './types.js';

/**
 * PGlite runs each query synchronously in this thread and settles its promise at once, so a
 * loop of queries would never let timers, aborts or other requests run: yield to the event
 * loop before each one.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function queryableOf(target: PGlite | Transaction): Queryable {
  const queryable: Queryable = {
    async query<R extends Row>(text: string, params: readonly unknown[] = []) {
      await yieldToEventLoop();
      if ('closed' in target && target.closed) throw databaseUnavailable();
      const result = await target.query<R>(text, [...params]).catch(translateDriverError);
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    },
    // PGlite has no wire: its statements are timed around its query().
    timed: (text, params = []) => timeQuery(queryable, text, params),
  };
  return queryable;
}

/**
 * The embedded PostgreSQL. PGlite is one backend that serialises every query, so the
 * advisory lock is kept in-process: a session-level pg lock would be re-entrant here.
 */
export function pgliteDatabase(pglite: PGlite): Database {
  let lockHeld = false;
  const session: Session = {
    query: queryableOf(pglite).query,
    transaction: async (fn, options) => {
      if (pglite.closed) throw databaseUnavailable();
      return pglite
        .transaction(async (tx) => {
          return fn(await applyTransactionOptions(queryableOf(tx), options));
        })
        .catch(translateDriverError); // its COMMIT's own failure (a deferred constraint) too
    },
  };
  return {
    driver: 'pglite',
    ...session,
    async withAdvisoryLock(fn) {
      if (lockHeld) throw lockBusy();
      lockHeld = true;
      try {
        return await fn(session);
      } finally {
        lockHeld = false;
      }
    },
    close: () => (pglite.closed ? Promise.resolve() : pglite.close()),
  };
}
