import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './exit.js';

/** Options every command takes. */
export interface Common {
  url?: string | undefined;
  token?: string | undefined;
  /** Print the service's JSON (a report, or a problem) instead of a summary. */
  json: boolean;
  /** Send no `Prefer: respond-async`: wait on the request itself (a 202 is still followed). */
  sync: boolean;
}

/** A command line, parsed: what to ask the service, and nothing of how it does it. */
export type Command =
  | { name: 'help' }
  | { name: 'validate'; mode?: string | undefined; sampleSize?: number | undefined }
  | { name: 'preflight'; sampleServers?: number | undefined; longTransactionSeconds?: number | undefined }
  | {
      name: 'benchmark';
      patterns?: string[] | undefined;
      iterations?: number | undefined;
      warmup?: number | undefined;
      baselineReportId?: string | undefined;
    }
  | {
      name: 'optimize';
      action: 'analyze' | 'plan' | 'apply';
      indexes?: string[] | undefined;
      iterations?: number | undefined;
      warmup?: number | undefined;
    }
  | { name: 'migrate'; batchSize?: number | undefined; serverIds?: string[] | undefined }
  | {
      name: 'rollback';
      resourceIds?: string[] | undefined;
      backportChanges?: boolean | undefined;
      batchSize?: number | undefined;
    }
  | { name: 'rehearse'; keep?: true | undefined; iterations?: number | undefined; warmup?: number | undefined }
  | { name: 'restore'; rollbackReportId: string }
  | { name: 'apply'; as?: 'migrate' | 'rollback' | 'restore' | undefined; id: string }
  | { name: 'report'; id: string }
  | { name: 'wait'; id: string };

export type Parsed = Command & Common;

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  sync: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const OPTIONS: Record<Exclude<Command['name'], 'help'>, Options> = {
  validate: { mode: { type: 'string' }, 'sample-size': { type: 'string' } },
  preflight: { 'sample-servers': { type: 'string' }, 'long-transaction-seconds': { type: 'string' } },
  benchmark: {
    pattern: { type: 'string', multiple: true },
    iterations: { type: 'string' },
    warmup: { type: 'string' },
    baseline: { type: 'string' },
  },
  optimize: { index: { type: 'string', multiple: true }, iterations: { type: 'string' }, warmup: { type: 'string' } },
  migrate: {
    'dry-run': { type: 'boolean' },
    'batch-size': { type: 'string' },
    server: { type: 'string', multiple: true },
  },
  rollback: {
    'dry-run': { type: 'boolean' },
    resource: { type: 'string', multiple: true },
    backport: { type: 'boolean' },
    'batch-size': { type: 'string' },
  },
  apply: {},
  report: {},
  wait: {},
  rehearse: { keep: { type: 'boolean' }, iterations: { type: 'string' }, warmup: { type: 'string' } },
  restore: { 'dry-run': { type: 'boolean' } },
};

const isCommand = (name: string): name is keyof typeof OPTIONS => Object.hasOwn(OPTIONS, name);

function integer(values: Record<string, unknown>, option: string): number | undefined {
  const raw = values[option];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw))
    throw usageError(`--${option} takes a whole number, not "${raw}".`);
  return Number(raw);
}

const strings = (values: Record<string, unknown>, option: string) => values[option] as string[] | undefined;
const string = (values: Record<string, unknown>, option: string) => values[option] as string | undefined;

/** The positional arguments a command takes, each named for the usage message. */
function positionals(command: string, given: string[], names: string[]): string[] {
  if (given.length !== names.length)
    throw usageError(
      `${command} takes ${names.length ? names.map((n) => `<${n}>`).join(' ') : 'no argument'}; got ${given.length ? given.join(' ') : 'none'}.`,
    );
  return given;
}

/** argv after the program's name, parsed; a usage error (exit 5) for anything it does not know. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return helpOnly();
  if (!isCommand(name)) throw usageError(`Unknown command "${name}".`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...COMMON, ...OPTIONS[name] }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`${name}: ${(error as Error).message}`);
  }
  const { values, positionals: given } = parsed;
  if (values.help) return helpOnly();
  const common: Common = {
    url: string(values, 'url'),
    token: string(values, 'token'),
    json: values.json === true,
    sync: values.sync === true,
  };
  switch (name) {
    case 'validate':
      positionals(name, given, []);
      return { ...common, name, mode: string(values, 'mode'), sampleSize: integer(values, 'sample-size') };
    case 'preflight':
      positionals(name, given, []);
      return {
        ...common,
        name,
        sampleServers: integer(values, 'sample-servers'),
        longTransactionSeconds: integer(values, 'long-transaction-seconds'),
      };
    case 'benchmark':
      positionals(name, given, []);
      return {
        ...common,
        name,
        patterns: strings(values, 'pattern'),
        iterations: integer(values, 'iterations'),
        warmup: integer(values, 'warmup'),
        baselineReportId: string(values, 'baseline'),
      };
    case 'optimize': {
      const [action] = positionals(name, given, ['analyze|plan|apply']);
      if (action !== 'analyze' && action !== 'plan' && action !== 'apply')
        throw usageError(`optimize takes analyze, plan or apply, not "${action}".`);
      if (action !== 'apply' && (values.iterations !== undefined || values.warmup !== undefined))
        throw usageError('--iterations and --warmup are for optimize apply.');
      return {
        ...common,
        name,
        action,
        indexes: strings(values, 'index'),
        iterations: integer(values, 'iterations'),
        warmup: integer(values, 'warmup'),
      };
    }
    case 'migrate':
      positionals(name, given, []);
      requireDryRun(name, values);
      return { ...common, name, batchSize: integer(values, 'batch-size'), serverIds: strings(values, 'server') };
    case 'rollback':
      positionals(name, given, []);
      requireDryRun(name, values);
      return {
        ...common,
        name,
        resourceIds: strings(values, 'resource'),
        backportChanges: values.backport === true ? true : undefined,
        batchSize: integer(values, 'batch-size'),
      };
    case 'rehearse':
      positionals(name, given, []);
      return {
        ...common,
        name,
        keep: values.keep === true ? true : undefined,
        iterations: integer(values, 'iterations'),
        warmup: integer(values, 'warmup'),
      };
    case 'restore': {
      const [rollbackReportId] = positionals(name, given, ['rollback report id']);
      requireDryRun(name, values);
      return { ...common, name, rollbackReportId: rollbackReportId! };
    }
    case 'apply': {
      if (given.length === 2) {
        const [as, id] = given as [string, string];
        if (as !== 'migrate' && as !== 'rollback' && as !== 'restore')
          throw usageError(`apply takes [migrate|rollback|restore] <id>, not "${given.join(' ')}".`);
        return { ...common, name, as, id };
      }
      const [id] = positionals(name, given, ['dry-run report id or planId']);
      return { ...common, name, id: id! };
    }
    case 'report':
    case 'wait': {
      const [id] = positionals(name, given, ['report id']);
      return { ...common, name, id: id! };
    }
  }
}

/** A change runs only from a dry run someone has seen: `apply` takes the dry run's report. */
function requireDryRun(name: 'migrate' | 'rollback' | 'restore', values: Record<string, unknown>) {
  const id = name === 'restore' ? ' <rollbackReportId>' : '';
  if (values['dry-run'] !== true)
    throw usageError(
      `${name} changes the database only through a reviewed dry run: run \`sark-migrate ${name} --dry-run${id}\`, then \`sark-migrate apply ${name} <reportId>\`.`,
    );
}

const helpOnly = (): Parsed => ({ name: 'help', json: false, sync: false });

export const USAGE = `sark-migrate: run SARK's v1 to v2 migration service from a terminal or a CI job.

Usage: sark-migrate <command> [options]

Commands:
  validate [--mode quick|full|schema|data|relationships] [--sample-size n]
  preflight [--sample-servers n] [--long-transaction-seconds n]
                      the pre-migration checklist and an estimate; exits as a validation
  benchmark [--pattern name]... [--iterations n] [--warmup n] [--baseline reportId]
  optimize analyze|plan
  optimize apply [--index name]... [--iterations n] [--warmup n]
                      without --index: the current plan's high- and medium-priority indexes
  migrate --dry-run [--batch-size n] [--server id]...
  rollback --dry-run [--resource id]... [--backport] [--batch-size n]
  rehearse [--keep] [--iterations n] [--warmup n]
                      the whole cutover on a throwaway copy of the database (Node only)
  restore --dry-run <rollbackReportId>
                      what a rollback's archived rows would put back, and which collide
  apply [migrate|rollback|restore] <reportId>
                      runs the dry run of that report for real (rollback: with its planId)
  apply rollback <planId>
                      a full rollback on a planId from a dry run
  report <id>         print a stored report
  wait <id>           follow a running report to its end
  help                this text

Options:
  --url <url>         the service (default: $SARK_MIGRATE_URL)
  --token <token>     a bearer token (default: $SARK_MIGRATE_TOKEN; prefer the variable)
  --json              print the service's JSON instead of a summary
  --sync              do not ask for respond-async (a 202 is still followed)

Exit codes: 0 passed or succeeded; 1 failed (a validation or preflight error check, or a run
that failed, regressed or was cancelled); 2 a critical check failed; 3 the service refused the
request (4xx); 4 the service is unavailable (5xx, unreachable); 5 a usage error.
See docs/cli.md.
`;
