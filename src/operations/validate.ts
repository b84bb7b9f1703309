import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import type { Database, Queryable, Row } from '../adapters/db/types.js';
import * as v2Schema from '../db/schema.js';
import { mappingFor, type Mapping } from '../mapping/mapping.js';
import { isServiceError, ServiceError } from '../errors.js';
import { detectV1Shape } from '../mapping/shape.js';
import { V1_TABLES, V2_TABLES } from '../sql/catalog.js';
import { fidelityCountsSql, fidelitySampleSql } from '../sql/fidelity.js';
import { existingTables } from '../sql/introspection.js';
import { queryOne, queryRows, type Sql } from '../sql/sql.js';
import {
  capabilityForeignKeysSql,
  capabilityRulesSql,
  invalidIndexesSql,
  resourceRulesSql,
  ruleSampleSql,
  unknownCostCapabilitiesSql,
  v2ColumnsSql,
} from '../sql/validate.js';
import type { Outcome } from '../reports/schemas.js';
import type { CheckResult, Severity, ValidationMode, ValidationReport } from '../reports/validation.js';
import { statementsTaking, type OperationContext } from './runner.js';
import { be, count } from './text.js';
import { SNAPSHOT_MAX_MS } from './snapshot.js';

const capabilities = (n: number) => count(n, 'capability', 'capabilities');

export interface ValidateInput {
  mode: ValidationMode;
  sampleSize: number;
  /** How long one snapshot may be held (default SNAPSHOT_MAX_MS): for tests; requests cannot set it. */
  snapshotMaxMs?: number | undefined;
}

export const SENSITIVITY_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const KNOWN_PROTOCOLS = ['mcp', 'http', 'grpc'] as const;
const VALIDATE_TIMEOUT_MS = 300_000;

type Group = 'schema' | 'data' | 'relationships' | 'business';
const GROUPS: Record<ValidationMode, Group[]> = {
  full: ['schema', 'data', 'relationships', 'business'],
  quick: ['schema', 'relationships', 'business'],
  schema: ['schema'],
  data: ['data'],
  relationships: ['relationships'],
};

/** The v2 tables as src/db/schema.ts declares them: columns with types, recommended indexes. */
const EXPECTED = Object.values(v2Schema).map((table) => {
  const config = getTableConfig(table as PgTable);
  return {
    table: config.name,
    columns: config.columns.map((c) => ({ name: c.name, type: normalizeType(c.getSQLType()) })),
    indexes: config.indexes.map((i) => i.config.name).filter((n): n is string => Boolean(n)),
  };
});

function normalizeType(type: string): string {
  return type
    .replace(/^varchar/, 'character varying')
    .replace(/^bigserial$/, 'bigint')
    .replace(/^serial$/, 'integer')
    .replace(/\s*,\s*/g, ',');
}

/** What the checks share within one run: the snapshot, the mapping, and queries run once. */
class Inspection {
  private readonly memo = new Map<string, Promise<unknown>>();
  constructor(
    readonly tx: Queryable,
    readonly sampleSize: number,
    readonly present: Set<string>,
    readonly mapping: Mapping | null,
    readonly v1Problem: string | null,
  ) {}

  once<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, work());
    return this.memo.get(key) as Promise<T>;
  }

  rows<R extends Row>(statement: Sql<R>): Promise<R[]> {
    return queryRows(this.tx, statement);
  }

  /** The ids a sample statement finds. */
  async ids(statement: Sql<{ id: string }>): Promise<string[]> {
    return (await queryRows(this.tx, statement)).map((r) => r.id);
  }

  fidelity(which: 'servers' | 'tools') {
    return this.once(`fidelity:${which}`, () => queryOne(this.tx, fidelityCountsSql(this.mapping!, which)));
  }

  resourceRules() {
    return this.once('resources', () => queryOne(this.tx, resourceRulesSql(SENSITIVITY_LEVELS, KNOWN_PROTOCOLS)));
  }

  capabilityRules() {
    return this.once('capabilities', () => queryOne(this.tx, capabilityRulesSql(SENSITIVITY_LEVELS)));
  }
}

interface CheckDefinition {
  name: string;
  group: Group;
  severity: Severity;
  /** Tables it reads; a missing one makes it skip. */
  needs: readonly string[];
  /** Compares v1 with v2: skipped (info) when v1 is gone. */
  needsV1?: boolean;
  run(i: Inspection): Promise<Omit<CheckResult, 'name' | 'severity'>>;
}

const outcome = (passed: boolean, message: string, details: Record<string, unknown> = {}, sample: string[] = []) => ({
  passed,
  message,
  details,
  sample,
});

async function fidelityCheck(i: Inspection, which: 'servers' | 'tools') {
  const counts = await i.fidelity(which);
  const [v1, v2] = which === 'servers' ? [['server'], ['MCP resource']] : [['tool'], ['capability', 'capabilities']];
  const v1Rows = (n: number) => count(n, `v1 ${v1[0]!}`);
  const extra = `${count(counts.extra, v2[0]!, v2[1])} ${be(counts.extra, 'has', 'have')} no v1 ${v1[0]!}`;
  const passed = counts.missing === 0 && counts.changed === 0;
  if (passed && counts.extra === 0)
    return outcome(
      true,
      `All ${v1Rows(counts.v1_rows)} ${be(counts.v1_rows, 'is', 'are')} in v2 with every mapped field equal.`,
      {
        ...counts,
      },
    );
  const found = await i.rows(fidelitySampleSql(i.mapping!, which, i.sampleSize));
  const changed = found.filter((f) => f.problem === 'changed').map((f) => ({ id: f.id, fields: f.fields ?? [] }));
  const message = passed
    ? `All ${v1Rows(counts.v1_rows)} match; ${extra} (created in v2 after cutover).`
    : `${v1Rows(counts.missing)} ${be(counts.missing, 'is', 'are')} missing in v2 and ${counts.changed} ${be(counts.changed, 'differs', 'differ')} in a mapped field${counts.extra ? `; ${extra}` : ''}. Re-run /migrate for missing rows; inspect the changed ones (sample, details.changedFields).`;
  const ids = (problem: string) => found.filter((f) => f.problem === problem).map((f) => f.id);
  return outcome(
    passed,
    message,
    { ...counts, missingIds: ids('missing'), changedFields: changed, extraIds: ids('extra') },
    [...ids('missing'), ...ids('changed')],
  );
}

const CHECKS: CheckDefinition[] = [
  {
    name: 'schema.tables_exist',
    group: 'schema',
    severity: 'critical',
    needs: [],
    async run(i) {
      const missing = V2_TABLES.filter((t) => !i.present.has(t));
      return missing.length === 0
        ? outcome(true, `All ${count(V2_TABLES.length, 'v2 table')} exist.`, { tables: [...V2_TABLES] })
        : outcome(
            false,
            `Missing v2 tables: ${missing.join(', ')}. Run /migrate (its schema phase creates them).`,
            { missing },
            missing,
          );
    },
  },
  {
    name: 'schema.columns_exist',
    group: 'schema',
    severity: 'critical',
    needs: [],
    async run(i) {
      const actual = await i.rows(v2ColumnsSql());
      const typeOf = new Map(actual.map((c) => [`${c.table_name}.${c.column_name}`, c.type.replace(/\s*,\s*/g, ',')]));
      const problems = EXPECTED.filter((t) => i.present.has(t.table)).flatMap((t) =>
        t.columns.flatMap((c) => {
          const found = typeOf.get(`${t.table}.${c.name}`);
          if (found === undefined) return [`${t.table}.${c.name}: missing`];
          return found === c.type ? [] : [`${t.table}.${c.name}: ${found}, expected ${c.type}`];
        }),
      );
      const checked = EXPECTED.filter((t) => i.present.has(t.table)).reduce((n, t) => n + t.columns.length, 0);
      return problems.length === 0
        ? outcome(true, `All ${count(checked, 'required column')} exist with their types.`, { checked })
        : outcome(
            false,
            `${count(problems.length, 'required column')} ${be(problems.length, 'is', 'are')} missing or of another type: ${problems.slice(0, 3).join('; ')}.`,
            { checked, problems },
            problems.slice(0, i.sampleSize),
          );
    },
  },
  {
    name: 'schema.indexes_exist',
    group: 'schema',
    severity: 'warning',
    needs: [],
    async run(i) {
      const wanted = EXPECTED.filter((t) => i.present.has(t.table)).flatMap((t) => t.indexes);
      const existing = await existingTables(i.tx, wanted);
      const missing = wanted.filter((n) => !existing.has(n));
      return missing.length === 0
        ? outcome(true, `All ${count(wanted.length, 'recommended index', 'recommended indexes')} exist.`, {
            checked: wanted.length,
          })
        : outcome(
            false,
            `Recommended indexes are missing: ${missing.join(', ')}; queries on their columns scan whole tables.`,
            { checked: wanted.length, missing },
            missing,
          );
    },
  },
  {
    name: 'schema.indexes_valid',
    group: 'schema',
    severity: 'error',
    needs: [],
    async run(i) {
      const invalid = (await i.rows(invalidIndexesSql())).map((r) => r.name);
      return invalid.length === 0
        ? outcome(true, 'No index on the v2 tables is INVALID.')
        : outcome(
            false,
            `INVALID indexes (a failed concurrent build) slow writes and serve no query: ${invalid.join(', ')}. Drop and rebuild them.`,
            { invalid },
            invalid,
          );
    },
  },
  {
    name: 'data.counts_match',
    group: 'data',
    severity: 'error',
    needs: ['resources', 'capabilities'],
    needsV1: true,
    async run(i) {
      const [servers, tools] = [await i.fidelity('servers'), await i.fidelity('tools')];
      const details = {
        v1Servers: servers.v1_rows,
        v2ResourcesOfV1Origin: servers.matched,
        v1Tools: tools.v1_rows,
        v2CapabilitiesOfV1Origin: tools.matched,
      };
      const passed = servers.v1_rows === servers.matched && tools.v1_rows === tools.matched;
      return outcome(
        passed,
        passed
          ? `${count(servers.v1_rows, 'server')} and ${count(tools.v1_rows, 'tool')} each have their v2 row.`
          : `v1 has ${count(servers.v1_rows, 'server')} and ${count(tools.v1_rows, 'tool')}; v2 has ${servers.matched} and ${tools.matched} of them.`,
        details,
      );
    },
  },
  {
    name: 'data.servers_fidelity',
    group: 'data',
    severity: 'error',
    needs: ['resources'],
    needsV1: true,
    run: (i) => fidelityCheck(i, 'servers'),
  },
  {
    name: 'data.tools_fidelity',
    group: 'data',
    severity: 'error',
    needs: ['resources', 'capabilities'],
    needsV1: true,
    run: (i) => fidelityCheck(i, 'tools'),
  },
  {
    name: 'data.required_fields_present',
    group: 'data',
    severity: 'error',
    needs: ['resources', 'capabilities'],
    async run(i) {
      const [r, c] = [await i.resourceRules(), await i.capabilityRules()];
      const bad = r.missing_fields! + c.missing_fields!;
      if (bad === 0)
        return outcome(
          true,
          `All ${count(r.total, 'resource')} and ${capabilities(c.total)} have their required fields.`,
          {
            resources: r.total,
            capabilities: c.total,
          },
        );
      const sample = [
        ...(await i.ids(ruleSampleSql.resourcesMissingFields(i.sampleSize))),
        ...(await i.ids(ruleSampleSql.capabilitiesMissingFields(i.sampleSize))),
      ];
      return outcome(
        false,
        `${count(r.missing_fields, 'resource')} ${be(r.missing_fields, 'lacks', 'lack')} a name, endpoint or protocol and ${capabilities(c.missing_fields)} ${be(c.missing_fields, 'lacks', 'lack')} a name.`,
        { resources: r.missing_fields, capabilities: c.missing_fields },
        sample.slice(0, i.sampleSize),
      );
    },
  },
  {
    name: 'data.metadata_populated',
    group: 'data',
    severity: 'warning',
    needs: ['resources'],
    async run(i) {
      const r = await i.resourceRules();
      if (r.empty_metadata === 0) return outcome(true, 'Every MCP resource carries its v1 fields in metadata.');
      return outcome(
        false,
        `${count(r.empty_metadata, 'MCP resource')} ${be(r.empty_metadata, 'has', 'have')} empty metadata: their v1 fields were not carried over.`,
        { empty: r.empty_metadata },
        await i.ids(ruleSampleSql.emptyMetadata(i.sampleSize)),
      );
    },
  },
  {
    name: 'relationships.capabilities_resource_fk',
    group: 'relationships',
    severity: 'critical',
    needs: ['resources', 'capabilities'],
    async run(i) {
      const c = await i.capabilityRules();
      if (c.orphans === 0)
        return outcome(true, `All ${capabilities(c.total)} belong to an existing resource.`, { capabilities: c.total });
      return outcome(
        false,
        `${capabilities(c.orphans)} ${be(c.orphans, 'points', 'point')} at a resource that does not exist.`,
        { orphans: c.orphans },
        await i.ids(ruleSampleSql.orphans(i.sampleSize)),
      );
    },
  },
  {
    name: 'relationships.cascade_delete_configured',
    group: 'relationships',
    severity: 'error',
    needs: ['resources', 'capabilities'],
    async run(i) {
      const keys = await i.rows(capabilityForeignKeysSql());
      const cascading = keys.filter((k) => k.on_delete === 'c');
      if (cascading.length > 0)
        return outcome(
          true,
          `capabilities.resource_id references resources ON DELETE CASCADE (${cascading[0]!.name}).`,
          { constraints: keys.map((k) => k.name) },
        );
      return outcome(
        false,
        keys.length === 0
          ? 'No foreign key ties capabilities.resource_id to resources: orphans can appear.'
          : 'The capabilities → resources foreign key does not cascade: deleting a resource fails or leaves its capabilities.',
        { constraints: keys },
        keys.map((k) => k.name),
      );
    },
  },
  {
    name: 'business.sensitivity_levels_valid',
    group: 'business',
    severity: 'error',
    needs: ['resources', 'capabilities'],
    async run(i) {
      const [r, c] = [await i.resourceRules(), await i.capabilityRules()];
      if (r.bad_sensitivity! + c.bad_sensitivity! === 0)
        return outcome(true, `Every sensitivity level is one of ${SENSITIVITY_LEVELS.join(', ')}.`);
      const sample = [
        ...(await i.ids(ruleSampleSql.resourcesBadSensitivity(i.sampleSize, SENSITIVITY_LEVELS))),
        ...(await i.ids(ruleSampleSql.capabilitiesBadSensitivity(i.sampleSize, SENSITIVITY_LEVELS))),
      ];
      return outcome(
        false,
        `${count(r.bad_sensitivity, 'resource')} and ${capabilities(c.bad_sensitivity)} have a sensitivity level outside ${SENSITIVITY_LEVELS.join(', ')}.`,
        { resources: r.bad_sensitivity, capabilities: c.bad_sensitivity },
        sample.slice(0, i.sampleSize),
      );
    },
  },
  {
    name: 'business.protocols_recognized',
    group: 'business',
    severity: 'warning',
    needs: ['resources'],
    async run(i) {
      const r = await i.resourceRules();
      if (r.unknown_protocol === 0)
        return outcome(true, `Every resource speaks a known protocol (${KNOWN_PROTOCOLS.join(', ')}).`);
      return outcome(
        false,
        `${count(r.unknown_protocol, 'resource')} ${be(r.unknown_protocol, 'uses', 'use')} a protocol SARK has no adapter for.`,
        { unknown: r.unknown_protocol },
        await i.ids(ruleSampleSql.unknownProtocol(i.sampleSize, KNOWN_PROTOCOLS)),
      );
    },
  },
  {
    name: 'business.cost_tracking_capabilities_known',
    group: 'business',
    severity: 'warning',
    needs: ['cost_tracking', 'capabilities'],
    async run(i) {
      const [row] = await i.rows(unknownCostCapabilitiesSql(i.sampleSize));
      if (row!.n === 0) return outcome(true, 'Every cost_tracking row names an existing capability.');
      return outcome(
        false,
        `${count(row!.n, 'cost_tracking row')} ${be(row!.n, 'names a capability', 'name capabilities')} that ${be(row!.n, 'does', 'do')} not exist (their history stays, unattributed).`,
        { rows: row!.n },
        row!.sample ?? [],
      );
    },
  },
];

async function runCheck(check: CheckDefinition, i: Inspection): Promise<CheckResult> {
  const absent = check.needs.filter((t) => !i.present.has(t));
  const skip = (message: string): CheckResult => ({
    name: check.name,
    severity: 'info',
    passed: false,
    skipped: true,
    message,
    details: {},
    sample: [],
  });
  if (absent.length > 0) return skip(`Skipped: ${absent.join(', ')} missing (see schema.tables_exist).`);
  if (check.needsV1 && !i.mapping) return skip(`Skipped: ${i.v1Problem}`);
  return { name: check.name, severity: check.severity, ...(await check.run(i)) };
}

/** passed / failed / critical, and the exit code a CI job can use. */
export function verdict(checks: CheckResult[]): { status: 'passed' | 'failed' | 'critical'; exitCode: 0 | 1 | 2 } {
  const failed = checks.filter((c) => !c.passed && !c.skipped);
  if (failed.some((c) => c.severity === 'critical')) return { status: 'critical', exitCode: 2 };
  if (failed.some((c) => c.severity === 'error')) return { status: 'failed', exitCode: 1 };
  return { status: 'passed', exitCode: 0 };
}

const SNAPSHOT = { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: VALIDATE_TIMEOUT_MS } as const;

/** What the checks look at: the tables present and the v1 shape, or why v1 cannot be compared. */
async function inspect(tx: Queryable, sampleSize: number): Promise<Inspection> {
  const present = await existingTables(tx, [...V1_TABLES, ...V2_TABLES]);
  let mapping: Mapping | null = null;
  let v1Problem: string | null = null;
  try {
    mapping = mappingFor(await detectV1Shape(tx));
  } catch (error) {
    if (!isServiceError(error, 'unsupported-v1-schema')) throw error;
    v1Problem = V1_TABLES.every((t) => !present.has(t))
      ? 'the v1 tables are gone (a fully cut-over database): nothing to compare with.'
      : error.message;
  }
  return new Inspection(tx, sampleSize, present, mapping, v1Problem);
}

/** The checks of one group, one after another, each counted as it ends, while the snapshot is young enough. */
async function checkGroup(
  group: Group,
  i: Inspection,
  onCheck: () => void,
  snapshot: { openedAt: number; maxMs: number },
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of CHECKS.filter((c) => c.group === group)) {
    if (Date.now() - snapshot.openedAt > snapshot.maxMs)
      throw new ServiceError(
        'statement-timeout',
        `The validation held its read-only snapshot for ${Math.round(snapshot.maxMs / 1000)} s, the most it may (it holds back VACUUM); validate one mode at a time (schema, data, relationships) or when the database is less busy.`,
        { facts: { snapshotMaxMs: snapshot.maxMs } },
      );
    results.push(await runCheck(check, i));
    onCheck();
  }
  return results;
}

/**
 * POST /validate: the checks of the mode, group by group, with a statement timeout; failed
 * checks are findings in the report, never errors of the request. In process, every group
 * reads one read-only snapshot. A launched run (a Workflow) makes each group a step of its
 * own, which may run in another isolate, so each group reads a snapshot of its own
 * (`snapshots` in the report).
 */
export async function validate(
  db: Database,
  input: ValidateInput,
  ctx: OperationContext<ValidationReport>,
): Promise<Outcome<ValidationReport>> {
  const maxMs = input.snapshotMaxMs ?? SNAPSHOT_MAX_MS;
  const opened = () => ({ openedAt: Date.now(), maxMs });
  // No statement runs past the snapshot's age either (the adapter cuts its statement_timeout).
  const snapshot = { ...SNAPSHOT, snapshotMaxMs: maxMs };
  if (!ctx.recordsSteps)
    return db.transaction(async (tx) => {
      const held = opened();
      const i = await inspect(tx, input.sampleSize);
      return checkGroups(input, ctx, i.mapping, 'one', (group, onCheck) => checkGroup(group, i, onCheck, held));
    }, snapshot);
  const { mapping } = await db.transaction((tx) => inspect(tx, input.sampleSize), snapshot);
  return checkGroups(input, ctx, mapping, 'per-group', (group, onCheck) =>
    db.transaction(async (tx) => {
      const held = opened();
      return checkGroup(group, await inspect(tx, input.sampleSize), onCheck, held);
    }, snapshot),
  );
}

async function checkGroups(
  input: ValidateInput,
  ctx: OperationContext<ValidationReport>,
  mapping: Mapping | null,
  snapshots: ValidationReport['snapshots'],
  check: (group: Group, onCheck: () => void) => Promise<CheckResult[]>,
): Promise<Outcome<ValidationReport>> {
  ctx.started();
  const groups = GROUPS[input.mode];
  const total = CHECKS.filter((c) => groups.includes(c.group)).length;
  const checks: CheckResult[] = [];
  let done = 0;
  for (const group of groups) {
    ctx.throwIfCancelled(); // a step boundary: the checks so far are in the cancelled report
    ctx.checkpoint({ checks: [...checks], snapshots });
    // Each check runs a statement or two (or reads one another check of its group ran), after the inspection's few.
    const statements = 2 * CHECKS.filter((c) => c.group === group).length + 3;
    const results = await ctx.step(
      `checks ${group}`,
      () => check(group, () => ctx.progress({ done: ++done, total })),
      statementsTaking(statements, VALIDATE_TIMEOUT_MS),
    );
    checks.push(...results);
    ctx.progress({ done: (done = checks.length), total });
  }
  const { status, exitCode } = verdict(checks);
  const failed = checks.filter((c) => !c.passed && !c.skipped);
  return {
    status,
    summary: {
      message:
        failed.length === 0
          ? `${count(checks.filter((c) => c.passed).length, 'check')} passed${checks.some((c) => c.skipped) ? `, ${checks.filter((c) => c.skipped).length} skipped` : ''}.`
          : `${failed.length} of ${count(checks.length, 'check')} failed: ${failed.map((c) => `${c.name} (${c.severity})`).join(', ')}.`,
      passed: checks.filter((c) => c.passed).length,
      failed: failed.length,
      skipped: checks.filter((c) => c.skipped).length,
      exitCode,
    },
    mode: input.mode,
    exitCode,
    v1Shape: mapping?.shape.name ?? null,
    snapshots,
    checks,
  };
}
