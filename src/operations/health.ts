import { pendingMigrations, SERVICE_MIGRATIONS } from '../db/migrate.js';
import { isServiceError } from '../errors.js';
import { SERVICE_SCHEMA, V1_TABLES, V2_TABLES } from '../sql/catalog.js';
import { existingTables, serverVersionSql } from '../sql/introspection.js';
import { queryOne } from '../sql/sql.js';
import type { AppDeps } from './deps.js';
import type { HealthReport } from './probe.js';

async function probeDatabase(deps: AppDeps) {
  // First: on a Worker the first use of the database brings the service's schema up to date.
  const pending = await pendingMigrations(deps.db, SERVICE_MIGRATIONS);
  const started = performance.now();
  const { version } = await queryOne(deps.db, serverVersionSql());
  const latencyMs = Math.round((performance.now() - started) * 10) / 10;
  const present = await existingTables(deps.db, [...V1_TABLES, ...V2_TABLES]);
  const tables = Object.fromEntries([...V1_TABLES, ...V2_TABLES].map((t) => [t, present.has(t)]));
  return { serverVersion: version, latencyMs, tables, pending };
}

/**
 * Reachability of the database and the store, and which SARK schema versions are present: one
 * probe per deps.healthProbe's time to live, however many ask.
 */
export function checkHealth(deps: AppDeps): Promise<HealthReport> {
  return deps.healthProbe ? deps.healthProbe.get(() => probe(deps)) : probe(deps);
}

async function probe(deps: AppDeps): Promise<HealthReport> {
  const [database, storage] = await Promise.allSettled([probeDatabase(deps), deps.store.check()]);
  if (database.status === 'rejected' && !isServiceError(database.reason)) {
    throw database.reason; // not an outage but a bug: let the error handler log it
  }
  const db = database.status === 'fulfilled' ? database.value : null;
  const tables = db?.tables ?? {};
  const reachable = db !== null;
  return {
    status: reachable && storage.status === 'fulfilled' ? 'ok' : 'unavailable',
    database: {
      reachable,
      driver: deps.db.driver,
      serverVersion: db?.serverVersion ?? null,
      latencyMs: db?.latencyMs ?? null,
    },
    schemas: {
      v1: V1_TABLES.every((t) => tables[t]),
      v2: V2_TABLES.every((t) => tables[t]),
      tables,
      service: { name: SERVICE_SCHEMA, current: db?.pending.length === 0, pending: db?.pending ?? [] },
    },
    storage: { ok: storage.status === 'fulfilled' },
    checkedAt: new Date().toISOString(),
  };
}
