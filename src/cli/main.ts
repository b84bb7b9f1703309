import type { components } from './api.js';
import { parseCommandLine, USAGE, type Parsed } from './args.js';
import { CliError, EXIT, usageError } from './exit.js';
import { progressOf, summaryOf } from './print.js';
import {
  exitCodeOf,
  followReport,
  ProblemAnswer,
  reportOf,
  serviceClient,
  unreachable,
  type Answer,
  type Following,
  type Report,
  type ServiceClient,
} from './service.js';

/**
 * The command line: it only calls the HTTP API (src/cli/api.d.ts, generated from the published
 * document), follows a 202 to the report's end, and exits with the report's code (exit.ts).
 */

type Schemas = components['schemas'];

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean | undefined };
  /** The fetch to call the service with (default: the global one). */
  fetch?: typeof fetch;
  /** How often a wait polls (tests shorten it). */
  pollMs?: Following['pollMs'];
}

const PROGRAM = 'sark-migrate';
const PLAN_ID = /^[0-9a-f]{32}$/;

interface Session {
  client: ServiceClient;
  url: string;
  parsed: Parsed;
  following: Following;
}

const preferOf = (parsed: Parsed) => (parsed.sync ? {} : { Prefer: 'respond-async' });

/** The service's answer to the command's request: a report, finished or (202) running. */
async function ask(s: Session): Promise<Answer<Report>> {
  const { client, parsed: p } = s;
  const headers = preferOf(p);
  switch (p.name) {
    case 'validate':
      return client.POST('/validate', {
        headers,
        // The service judges the values (400 names each bad one); the command line only carries them.
        body: { mode: p.mode as Schemas['ValidateRequest']['mode'], sampleSize: p.sampleSize },
      });
    case 'preflight':
      return client.POST('/preflight', {
        headers,
        body: { sampleServers: p.sampleServers, longTransactionSeconds: p.longTransactionSeconds },
      });
    case 'benchmark':
      return client.POST('/benchmark', {
        headers,
        body: {
          patterns: p.patterns as Schemas['BenchmarkRequest']['patterns'],
          iterations: p.iterations,
          warmup: p.warmup,
          baselineReportId: p.baselineReportId,
        },
      });
    case 'optimize':
      return client.POST('/optimize', {
        headers,
        body: {
          action: p.action,
          indexes: p.indexes as Schemas['OptimizeRequest']['indexes'],
          iterations: p.iterations,
          warmup: p.warmup,
        },
      });
    case 'migrate':
      return client.POST('/migrate', {
        headers,
        body: { dryRun: true, batchSize: p.batchSize, serverIds: p.serverIds },
      });
    case 'rollback':
      return client.POST('/rollback', {
        headers,
        body: { dryRun: true, resourceIds: p.resourceIds, backportChanges: p.backportChanges, batchSize: p.batchSize },
      });
    case 'rehearse':
      return client.POST('/rehearse', {
        headers,
        body: {
          keep: p.keep,
          ...(p.iterations !== undefined || p.warmup !== undefined
            ? { benchmark: { iterations: p.iterations, warmup: p.warmup } }
            : {}),
        },
      });
    case 'restore':
      return client.POST('/restore', { headers, body: { rollbackReportId: p.rollbackReportId, dryRun: true } });
    case 'apply':
      return applyDryRun(s, p.id, p.as);
    case 'report':
    case 'wait':
      return client.GET('/reports/{id}', { params: { path: { id: p.id } } });
    case 'help':
      throw new Error('help asks the service nothing');
  }
}

/**
 * Runs a reviewed dry run for real. A report id: its kind says migrate or rollback, and its
 * request is sent again with `dryRun: false` and the plan's planId, which the service refuses
 * (409 stale-plan) when the database no longer matches. A bare planId: a full
 * rollback on that plan.
 */
async function applyDryRun(
  s: Session,
  id: string,
  as: 'migrate' | 'rollback' | 'restore' | undefined,
): Promise<Answer<Report>> {
  const { client, parsed } = s;
  const headers = preferOf(parsed);
  if (PLAN_ID.test(id)) {
    if (as === 'migrate' || as === 'restore')
      throw usageError(`${id} is a rollback planId: apply ${as} takes the report id of a ${as} dry run.`);
    return client.POST('/rollback', { headers, body: { dryRun: false, planId: id } });
  }
  const dry = reportOf(await client.GET('/reports/{id}', { params: { path: { id } } }));
  const kind = ({ migration: 'migrate', rollback: 'rollback', restore: 'restore' } as const)[
    dry.kind as 'migration' | 'rollback' | 'restore'
  ] as 'migrate' | 'rollback' | 'restore' | undefined;
  if (!kind)
    throw usageError(
      `Report ${id} is a ${dry.kind} report: apply takes the report of a migrate, rollback or restore dry run.`,
    );
  if (as && as !== kind) throw usageError(`Report ${id} is a ${kind} dry run, not a ${as} one.`);
  if ((dry as { dryRun?: unknown }).dryRun !== true || dry.status !== 'succeeded')
    throw usageError(`Report ${id} is not a finished dry run (status ${dry.status}): there is no plan to apply.`);
  if (kind === 'migrate') {
    // With the dry run's planId: the service refuses (409 stale-plan) once the database no longer matches it.
    const migration = dry as Schemas['MigrationReport'];
    const request = migration.request as Schemas['MigrateRequest'];
    const planId = migration.planId ? { planId: migration.planId } : {};
    return client.POST('/migrate', { headers, body: { ...request, dryRun: false, ...planId } });
  }
  if (kind === 'restore') {
    // The check is repeated by the run itself: colliding rows refuse it (409), nothing restored.
    const restore = dry as Schemas['RestoreReport'];
    return client.POST('/restore', { headers, body: { rollbackReportId: restore.rollbackReportId, dryRun: false } });
  }
  const rollback = dry as Schemas['RollbackReport'];
  const request = rollback.request as Schemas['RollbackRequest'];
  return client.POST('/rollback', { headers, body: { ...request, dryRun: false, planId: rollback.planId ?? '' } });
}

/** The command's report at its end: asked, and followed while it runs (`report` does not wait). */
async function run(s: Session): Promise<Report> {
  const answer = await ask(s);
  const report = reportOf(answer);
  const running = answer.response.status === 202 || (s.parsed.name === 'wait' && report.status === 'running');
  return running ? followReport(s.client, s.url, report.id, s.following) : report;
}

function configured(parsed: Parsed, env: Record<string, string | undefined>) {
  const url = parsed.url ?? env.SARK_MIGRATE_URL;
  const token = parsed.token ?? env.SARK_MIGRATE_TOKEN;
  if (!url) throw usageError('No service URL: set SARK_MIGRATE_URL (or pass --url).');
  if (!token) throw usageError('No token: set SARK_MIGRATE_TOKEN (or pass --token).');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw usageError(`The service URL "${url}" is not a URL.`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:')
    throw usageError(`The service URL must be http or https, not ${parsedUrl.protocol}`);
  return { url: url.replace(/\/+$/, ''), token };
}

/** Runs one command line; resolves to the exit code. Never prints the token. */
export async function main(argv: readonly string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  let secret = '';
  const hide = (text: string) => (secret ? text.split(secret).join('***') : text);
  const out = (text: string) => void io.stdout.write(hide(text));
  const err = (text: string) => void io.stderr.write(hide(text));
  let parsed: Parsed | undefined;
  try {
    parsed = parseCommandLine(argv);
    if (parsed.name === 'help') {
      out(USAGE);
      return EXIT.ok;
    }
    const { url, token } = configured(parsed, env);
    secret = token;
    let progressShown = false;
    const following: Following = {
      onProgress(report) {
        if (!io.stderr.isTTY) return; // a CI log gets the outcome only
        err(`\r\x1b[K${progressOf(report)}`);
        progressShown = true;
      },
      ...(io.pollMs ? { pollMs: io.pollMs } : {}),
    };
    const s: Session = { client: serviceClient(url, token, io.fetch), url, parsed, following };
    let report: Report;
    try {
      report = await run(s);
    } finally {
      if (progressShown) err('\r\x1b[K');
    }
    const code = exitCodeOf(report);
    out(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : summaryOf(report, code, url, PROGRAM));
    return code;
  } catch (error) {
    if (error instanceof ProblemAnswer) {
      if (parsed?.json)
        out(`${typeof error.body === 'string' ? JSON.stringify(error.body) : JSON.stringify(error.body, null, 2)}\n`);
      err(`${PROGRAM}: ${error.message}\n`);
      return error.code;
    }
    if (error instanceof CliError) {
      err(`${PROGRAM}: ${error.message}\n`);
      if (error.code === EXIT.usage) err(`Run \`${PROGRAM} help\` for the commands and options.\n`);
      return error.code;
    }
    // fetch itself failed: nothing answered at that address.
    const failure = unreachable(parsed?.url ?? env.SARK_MIGRATE_URL ?? '', error);
    err(`${PROGRAM}: ${failure.message}\n`);
    return failure.code;
  }
}
