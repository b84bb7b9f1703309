import type { z } from '@hono/zod-openapi';
import type { Scope } from '../../http/scopes.js';
import { PATTERN_CATALOGUE } from '../../reports/benchmark.js';
import { reportIdSchema, type ReportKind } from '../../reports/schemas.js';
import { VALIDATION_MODES } from '../../reports/validation.js';
import { benchmarkBodySchema } from '../benchmark/benchmark.routes.js';
import { migrateBodySchema } from '../migrate/migrate.routes.js';
import { optimizeBodySchema } from '../optimize/optimize.routes.js';
import { preflightBodySchema } from '../preflight/preflight.routes.js';
import { rollbackBodySchema } from '../rollback/rollback.routes.js';
import { validateBodySchema } from '../validate/validate.routes.js';

/** `/sark <command> [args]`: what a slash command's text asks for, checked by the endpoints' own schemas. */
export type Command =
  | { name: 'help' }
  | { name: 'status' }
  | { name: 'runs' }
  | { name: 'report'; id: string }
  | { name: 'cancel'; id: string }
  | { name: 'run'; kind: ReportKind; request: Record<string, unknown> };

export interface Parsed {
  command: Command;
  /** The scope the command needs (cancelling a changing run needs `apply` as well, once its report is read). */
  scope: Scope | null;
}

export const USAGE = [
  '*Usage*: `/sark <command> [args]`',
  '• `help`: this list',
  '• `status`: the deep health check (scope read)',
  `• \`validate [${VALIDATION_MODES.join('|')}]\`: check the migration (default full; scope run)`,
  "• `preflight`: the runbook's pre-migration checklist, and an estimate of the migration (scope run)",
  `• \`benchmark [pattern…]\`: time query patterns (default all: ${PATTERN_CATALOGUE.map((p) => p.name).join(', ')}; scope run)`,
  '• `optimize [analyze|plan]`: index health or a plan (default plan; scope run); a plan comes with Apply',
  '• `migrate`: a dry run of the migration, with Apply (scope run; Apply needs apply)',
  '• `rollback`: a dry run of the rollback, with its planId and Apply (scope run; Apply needs apply)',
  '• `runs`: the latest reports (scope read)',
  '• `report <id>`: one report (scope read)',
  '• `cancel <id>`: stop a running run (scope run; apply for a changing run)',
].join('\n');

const problemsOf = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');

/** The command, or why the text is not one (answered with the usage). */
export function parseCommand(text: string): Parsed | { problem: string } {
  const [name = 'help', ...args] = text.trim().split(/\s+/).filter(Boolean);
  const noArgs = (command: Command, scope: Scope | null): Parsed | { problem: string } =>
    args.length === 0 ? { command, scope } : { problem: `\`${name}\` takes no arguments.` };
  const run = (kind: ReportKind, schema: z.ZodType, body: object): Parsed | { problem: string } => {
    const result = schema.safeParse(body);
    if (!result.success) return { problem: `\`${name}\`: ${problemsOf(result.error)}` };
    return { command: { name: 'run', kind, request: { ...(result.data as object) } }, scope: 'run' };
  };
  const oneId = (command: 'report' | 'cancel', scope: Scope): Parsed | { problem: string } => {
    if (args.length !== 1) return { problem: `\`${name}\` takes one report id.` };
    const id = reportIdSchema.safeParse(args[0]);
    if (!id.success) return { problem: `\`${name}\`: ${problemsOf(id.error)}` };
    return { command: { name: command, id: id.data }, scope };
  };

  switch (name.toLowerCase()) {
    case 'help':
      return { command: { name: 'help' }, scope: null };
    case 'status':
      return noArgs({ name: 'status' }, 'read');
    case 'runs':
      return noArgs({ name: 'runs' }, 'read');
    case 'report':
      return oneId('report', 'read');
    case 'cancel':
      return oneId('cancel', 'run');
    case 'validate':
      if (args.length > 1) return { problem: '`validate` takes at most one mode.' };
      return run('validation', validateBodySchema, args[0] ? { mode: args[0] } : {});
    case 'preflight':
      if (args.length > 0) return { problem: '`preflight` takes no arguments.' };
      return run('preflight', preflightBodySchema, {});
    case 'benchmark':
      return run('benchmark', benchmarkBodySchema, args.length ? { patterns: args } : {});
    case 'optimize':
      if (args.length > 1 || (args[0] && !['analyze', 'plan'].includes(args[0])))
        return { problem: '`optimize` takes `analyze` or `plan`; a plan is applied with its Apply button.' };
      return run('optimization', optimizeBodySchema, { action: args[0] ?? 'plan' });
    case 'migrate':
      if (args.length > 0)
        return { problem: '`migrate` is a dry run and takes no arguments; apply it with its button.' };
      return run('migration', migrateBodySchema, { dryRun: true });
    case 'rollback':
      if (args.length > 0)
        return { problem: '`rollback` is a dry run and takes no arguments; apply it with its button.' };
      return run('rollback', rollbackBodySchema, { dryRun: true });
    default:
      return { problem: `\`${name}\` is not a command.` };
  }
}
