import { ServiceError } from '../../errors.js';
import {
  createDatabaseFromTemplateSql,
  currentDatabaseSql,
  databaseExistsSql,
  dropDatabaseSql,
  sessionsOnSql,
} from '../../sql/copies.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import { createPgDatabase } from '../db/pg.js';
import type { Database } from '../db/types.js';
import { COPY_NAME, type CopyProvider, type DatabaseCopy } from './types.js';

export interface TemplateCopiesOptions {
  /** DATABASE_URL: the source; the copy is made on its server, next to it. */
  sourceUrl: string;
  /**
   * The service's own pools on the source (its reads', its changing runs'): quiesced while the
   * copy is made, since PostgreSQL copies a template only when no other session is connected to it.
   */
  sources: Database[];
  /** The database the maintenance connection goes to (default `postgres`). */
  maintenanceDatabase?: string;
  /** Opens the copy (default: pg); the Neon driver through a proxy in tests. */
  open?: (url: string) => Database;
}

/** How long the copy waits for the sessions the service itself just closed to leave the server. */
const SETTLE_MS = 2_000;

const withDatabase = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
};

/** Runs fn with every source quiesced, one inside the other. */
const quiesceAll = <T>(sources: Database[], fn: () => Promise<T>): Promise<T> =>
  sources.reduceRight<() => Promise<T>>((inner, db) => () => (db.quiesce ? db.quiesce(inner) : inner()), fn)();

/**
 * Plain PostgreSQL: CREATE DATABASE <copy> TEMPLATE <source>, over a maintenance connection to
 * another database of the server, with the service's own pools on the source closed meanwhile.
 * Any other session on the source makes PostgreSQL refuse the copy: the answer is a 409
 * (`copy-refused`) naming how many sessions and which applications, and what to do instead.
 */
export function templateCopies(options: TemplateCopiesOptions): CopyProvider {
  const source = decodeURIComponent(new URL(options.sourceUrl).pathname.slice(1)) || 'postgres';
  const maintenanceUrl = withDatabase(options.sourceUrl, options.maintenanceDatabase ?? 'postgres');
  const open = options.open ?? ((url: string) => createPgDatabase({ connectionString: url, max: 4 }));
  const withMaintenance = async <T>(fn: (db: Database) => Promise<T>): Promise<T> => {
    const db = createPgDatabase({ connectionString: maintenanceUrl, max: 1 });
    try {
      return await fn(db);
    } finally {
      await db.close().catch(() => undefined);
    }
  };

  /** The other sessions on the source, waited for a moment (closed connections take a little to leave). */
  const otherSessions = async (db: Database) => {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const rows = await queryRows(db, sessionsOnSql(source));
      if (rows.length === 0 || Date.now() >= deadline) return rows;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const refused = (sessions: { application: string; sessions: number }[]) => {
    const total = sessions.reduce((n, s) => n + s.sessions, 0);
    const apps = sessions.map((s) => `${s.application} (${s.sessions})`).join(', ');
    return new ServiceError(
      'copy-refused',
      `PostgreSQL copies a database (CREATE DATABASE ... TEMPLATE) only while no other session is connected to it, and ${total} ${total === 1 ? 'session is' : 'sessions are'} connected to "${source}": ${apps}. Nothing was copied. Stop those clients for the moment of the copy, or rehearse where a copy needs no quiet: on a Neon branch (NEON_API_KEY, NEON_PROJECT_ID), or on a database restored from a backup (point a service's DATABASE_URL at it).`,
      { facts: { database: source, sessions: total, applications: sessions } },
    );
  };

  return {
    method: 'template',
    canKeep: true,
    async create(name) {
      if (!COPY_NAME.test(name)) throw new Error(`not a copy name the service makes: ${name}`);
      await withMaintenance((db) =>
        quiesceAll(options.sources, async () => {
          const others = await otherSessions(db);
          if (others.length > 0) throw refused(others);
          try {
            await execute(db, createDatabaseFromTemplateSql(name, source));
          } catch (error) {
            // A session that came meanwhile: PostgreSQL says "being accessed by other users" (55006).
            const now = await queryRows(db, sessionsOnSql(source)).catch(() => []);
            if (now.length > 0) throw refused(now);
            throw error;
          }
        }),
      );
      const url = withDatabase(options.sourceUrl, name);
      let copyDb: Database | undefined;
      const drop = async () => {
        await copyDb?.close().catch(() => undefined);
        await withMaintenance((db) => execute(db, dropDatabaseSql(name)));
      };
      try {
        copyDb = open(url);
        await queryOne(copyDb, currentDatabaseSql());
      } catch (error) {
        await drop().catch(() => undefined);
        throw error;
      }
      let dropped = false;
      const copy: DatabaseCopy = {
        db: copyDb,
        name,
        reach: `database "${name}" on the server of DATABASE_URL (the same host, port and role; only the database name differs)`,
        async drop() {
          if (dropped) return;
          await drop();
          dropped = true;
        },
      };
      return copy;
    },
  };
}

/** Whether a database of that name exists on the server (tests; an operator's check). */
export const databaseExists = (db: Database, name: string) =>
  queryOne(db, databaseExistsSql(name)).then((r) => r.present);
