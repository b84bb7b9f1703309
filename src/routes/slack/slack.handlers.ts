import { z, type RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import { HttpProblem, reportErrorOf } from '../../http/problems.js';
import { slackActor, type SlackActor } from '../../http/slack.js';
import { grants } from '../../http/scopes.js';
import { isServiceError } from '../../errors.js';
import { postJson, targetProblem } from '../../notify/send.js';
import {
  APPLY_ACTION,
  CANCEL_ACTION,
  ephemeral,
  escape,
  healthMessage,
  reportMessage,
  runTitle,
  runsMessage,
  type SlackMessage,
} from '../../notify/slack.js';
import { cancelRun } from '../../operations/cancel.js';
import type { AppDeps, NotifyTarget } from '../../operations/deps.js';
import { checkHealth } from '../../operations/health.js';
import { isChanging } from '../../operations/runs.js';
import { startDetached } from '../../operations/start.js';
import type { ReportId } from '../../reports/ids.js';
import { reportIdSchema } from '../../reports/schemas.js';
import { migrateBodySchema } from '../migrate/migrate.routes.js';
import { optimizeBodySchema } from '../optimize/optimize.routes.js';
import { rollbackBodySchema } from '../rollback/rollback.routes.js';
import { parseCommand, USAGE, type Command } from './commands.js';
import type { postSlackCommand, postSlackInteraction } from './slack.routes.js';

const notAllowed = (who: SlackActor) =>
  ephemeral(`Sorry, <@${who.user}>: this Slack user is not allowed to use sark-migrate (not in SLACK_PRINCIPALS).`);

const lacks = (scope: string, what: string) =>
  ephemeral(`You lack the \`${scope}\` scope, which ${what} needs (SLACK_PRINCIPALS).`);

/** Posts to a response_url; what became of it is logged only (nobody waits for it). */
async function post(deps: AppDeps, url: string, message: SlackMessage): Promise<void> {
  // A new message unless it says otherwise (the one whose button was clicked is replaced).
  const delivery = await postJson(url, { replace_original: false, ...message }, deps.notify ?? { allowPrivate: false });
  if (!delivery.delivered) console.warn(`a Slack response was not delivered: ${JSON.stringify(delivery.attempts)}`);
}

/** The response_url, when the notify policy lets a result go there. */
function responseTarget(deps: AppDeps, url: string | null, origin: string): NotifyTarget | string {
  const problem = targetProblem(url ?? '', { host: 'hooks.slack.com' }, deps.notify ?? { allowPrivate: false });
  if (problem) return `The command's response_url ${problem}, so no result could be posted; nothing was run.`;
  return { kind: 'slack', url: url!, origin, buttons: true };
}

/** What a command does once acknowledged: nothing here waits for it, and its answer goes to the response_url. */
async function perform(deps: AppDeps, command: Command, who: SlackActor, target: NotifyTarget): Promise<void> {
  try {
    switch (command.name) {
      case 'run':
        await startDetached(
          deps,
          {
            kind: command.kind,
            actor: who.actor,
            request: command.request,
            changing: false,
            describeFailure: reportErrorOf,
          },
          target,
        );
        return;
      case 'status':
        return await post(deps, target.url, healthMessage(await checkHealth(deps)));
      case 'runs':
        return await post(deps, target.url, runsMessage((await deps.store.list({ limit: 10 })).items, target.origin));
      case 'report': {
        const report = await deps.store.get(command.id as ReportId);
        const message = report
          ? { ...reportMessage(report, target.origin), response_type: 'ephemeral' as const }
          : ephemeral(`No report has the id ${command.id}.`);
        return await post(deps, target.url, message);
      }
      case 'cancel': {
        const report = await deps.store.get(command.id as ReportId);
        if (!report) return await post(deps, target.url, ephemeral(`No report has the id ${command.id}.`));
        if (isChanging(report.kind, report.request) && !grants(who.scopes ?? [], 'apply'))
          return await post(deps, target.url, lacks('apply', 'cancelling a run that changes the database'));
        await cancelRun(deps, report);
        return await post(
          deps,
          target.url,
          ephemeral(
            `Cancel asked of ${runTitle(report.kind, report.request)} ${report.id}: it stops at its next step.`,
          ),
        );
      }
      case 'help':
        return await post(deps, target.url, ephemeral(USAGE));
    }
  } catch (error) {
    const detail = isServiceError(error) ? error.message : 'It failed unexpectedly; the service log has the details.';
    if (!isServiceError(error)) console.error(`/sark ${command.name} for ${who.actor} failed`, error);
    await post(deps, target.url, ephemeral(`/sark ${command.name}: ${detail}`));
  }
}

const ACK: Record<Command['name'], string> = {
  help: '',
  status: 'Checking health…',
  runs: 'Reading the latest reports…',
  report: 'Reading the report…',
  cancel: 'Asking the run to stop…',
  run: '',
};

export const postSlackCommandHandler: RouteHandler<typeof postSlackCommand, AppEnv> = async (c) => {
  const form = c.var.slackForm;
  const who = slackActor(c.var.slack!.principals, form.get('team_id') ?? '', form.get('user_id') ?? '');
  if (!who.scopes) return c.json(notAllowed(who), 200);
  const parsed = parseCommand(form.get('text') ?? '');
  if ('problem' in parsed) return c.json(ephemeral(`${parsed.problem}\n${USAGE}`), 200);
  const { command, scope } = parsed;
  if (command.name === 'help') return c.json(ephemeral(USAGE), 200);
  if (scope && !grants(who.scopes, scope)) return c.json(lacks(scope, `\`${form.get('text')?.trim()}\``), 200);
  const target = responseTarget(c.var.deps, form.get('response_url'), new URL(c.req.url).origin);
  if (typeof target === 'string') return c.json(ephemeral(target), 200);
  // The answer never waits for the database: the work runs after it.
  c.var.deps.defer(perform(c.var.deps, command, who, target));
  const ack =
    command.name === 'run'
      ? `${runTitle(command.kind, command.request)}: started; the result follows here.`
      : ACK[command.name];
  return c.json(ephemeral(`:hourglass_flowing_sand: ${ack}`), 200);
};

const interactionSchema = z.object({
  type: z.string(),
  user: z.object({ id: z.string(), team_id: z.string().optional() }),
  team: z.object({ id: z.string() }).nullable().optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
  response_url: z.string(),
  message: z.object({ blocks: z.array(z.looseObject({ type: z.string() })).optional() }).optional(),
});

const applyValueSchema = z.object({
  kind: z.enum(['migration', 'rollback', 'optimization']),
  plan: reportIdSchema,
  body: z.record(z.string(), z.unknown()),
});

const APPLY_SCHEMAS = { migration: migrateBodySchema, rollback: rollbackBodySchema, optimization: optimizeBodySchema };

/** The message whose button was clicked, its buttons replaced by who clicked what. */
function clicked(blocks: { type: string }[] | undefined, line: string): SlackMessage {
  const kept = (blocks ?? []).filter((b) => b.type !== 'actions') as SlackMessage['blocks'];
  return {
    replace_original: true,
    text: line,
    blocks: [...(kept ?? []), { type: 'context', elements: [{ type: 'mrkdwn', text: line }] }],
  };
}

/** What the Apply button carries, checked by the operation's own schema: always a run that changes the database. */
function applyRunOf(value: string | undefined) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    return undefined;
  }
  const apply = applyValueSchema.safeParse(parsed);
  if (!apply.success) return undefined;
  const body = APPLY_SCHEMAS[apply.data.kind].safeParse(apply.data.body);
  if (!body.success || !isChanging(apply.data.kind, body.data)) return undefined;
  return { kind: apply.data.kind, plan: apply.data.plan, request: { ...body.data } as Record<string, unknown> };
}

export const postSlackInteractionHandler: RouteHandler<typeof postSlackInteraction, AppEnv> = async (c) => {
  const deps = c.var.deps;
  let raw: unknown;
  try {
    raw = JSON.parse(c.var.slackForm.get('payload') ?? '');
  } catch {
    throw new HttpProblem('bad-request', 'The form has no `payload` of JSON.');
  }
  const payload = interactionSchema.safeParse(raw);
  if (!payload.success) throw new HttpProblem('bad-request', 'The payload is not a block_actions payload.');
  const { user, team, actions, response_url: url, message } = payload.data;
  const who = slackActor(c.var.slack!.principals, team?.id ?? user.team_id ?? '', user.id);
  const target = responseTarget(deps, url, new URL(c.req.url).origin);
  if (typeof target === 'string') {
    console.warn(`a Slack interaction of ${who.actor} was ignored: ${target}`);
    return c.body(null, 200);
  }
  const action = actions[0]!;
  // Each answer goes to the response_url after the acknowledgement: Slack reads nothing from it for a button.
  const answer = (m: SlackMessage) => deps.defer(post(deps, url, m));

  if (!who.scopes) answer(notAllowed(who));
  else if (action.action_id === CANCEL_ACTION)
    answer(clicked(message?.blocks, `Cancelled by <@${escape(who.user)}>: nothing was applied.`));
  else if (action.action_id !== APPLY_ACTION) answer(ephemeral(`Unknown action \`${escape(action.action_id)}\`.`));
  else if (!grants(who.scopes, 'apply')) answer(lacks('apply', 'applying a plan'));
  else {
    const run = applyRunOf(action.value);
    if (!run) answer(ephemeral('This button does not carry a plan sark-migrate can apply; make a new plan.'));
    else {
      answer(clicked(message?.blocks, `Apply clicked by <@${escape(who.user)}>: applying; the result follows.`));
      deps.defer(
        startDetached(
          deps,
          { kind: run.kind, actor: who.actor, request: run.request, changing: true, describeFailure: reportErrorOf },
          { ...target, plan: run.plan },
        ),
      );
    }
  }
  return c.body(null, 200);
};
