/** @jsxImportSource hono/jsx */
import type { z } from '@hono/zod-openapi';
import { Hono, type Context } from 'hono';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { assertScope, findToken } from '../http/auth.js';
import type { AppEnv } from '../http/create-router.js';
import { HttpProblem, reportErrorOf } from '../http/problems.js';
import { grants, type Scope } from '../http/scopes.js';
import { compareWithBaseline } from '../operations/benchmark.js';
import { cancelRun } from '../operations/cancel.js';
import { checkHealth } from '../operations/health.js';
import { currentLease } from '../operations/lease.js';
import { isChanging } from '../operations/runs.js';
import type { PatternResult } from '../reports/benchmark.js';
import { isReportId, type ReportId } from '../reports/ids.js';
import type { Recommendation } from '../reports/optimization.js';
import { REPORT_KINDS, type Report, type ReportKind } from '../reports/schemas.js';
import { benchmarkBodySchema } from '../routes/benchmark/benchmark.routes.js';
import { migrateBodySchema } from '../routes/migrate/migrate.routes.js';
import { optimizeBodySchema } from '../routes/optimize/optimize.routes.js';
import { rehearseBodySchema } from '../routes/rehearse/rehearse.routes.js';
import { preflightBodySchema } from '../routes/preflight/preflight.routes.js';
import { startRun } from '../routes/operation.js';
import { rollbackBodySchema } from '../routes/rollback/rollback.routes.js';
import { validateBodySchema } from '../routes/validate/validate.routes.js';
import { DASHBOARD_CSS, LIVE_JS } from './assets.js';
import type { Viewer } from './layout.js';
import { BenchmarkSection, type BaselineChoice } from './pages/benchmark.js';
import { OptimizeSection } from './pages/optimize.js';
import { RehearsalSection } from './pages/rehearsal.js';
import { ReportPage, RunSection, type LeaseView } from './pages/report.js';
import { listRuns, RunsPage, RUN_STATUSES } from './pages/runs.js';
import { ConfirmPage, HealthPage, MessagePage, SignInPage } from './pages/simple.js';
import { ValidationSection } from './pages/validation.js';
import { progressView } from './progress.js';
import { csrfToken, endSession, readSession, sameToken, startSession, type Session } from './session.js';

/**
 * The dashboard under /dashboard: pages rendered on the server (hono/jsx), readable without
 * JavaScript, behind a session cookie a sign-in form sets. Its forms start, apply and cancel
 * runs through the same operations and the same startRun as the API, with the session's token as
 * actor; each is CSRF-protected twice (hono/csrf's origin check, and a token bound to the session).
 */
export type DashboardEnv = AppEnv & { Variables: { viewer: Viewer; session: Session; secret: string } };
type DashboardContext = Context<DashboardEnv>;

// Everything comes from this service: a stylesheet and one script of its own, inline SVG.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function page(c: Context, node: JSX.Element, status: ContentfulStatusCode = 200) {
  c.header('Content-Security-Policy', CSP);
  c.header('Cache-Control', 'no-store');
  return c.html(`<!doctype html>${String(node)}`, status);
}

function message(c: DashboardContext, status: ContentfulStatusCode, title: string, detail: string) {
  const viewer = c.get('viewer') as Viewer | undefined;
  return page(c, <MessagePage title={title} detail={detail} viewer={viewer} />, status);
}

/** Only a path of the dashboard itself is a place to go back to after signing in. */
const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/dashboard(\/|\?|$)/.test(next) && !/[\\\s]|\/\//.test(next) ? next : '/dashboard';

const forbidden = (viewer: Viewer, scope: Scope, what: string) =>
  new HttpProblem('forbidden', `The token "${viewer.name}" lacks the "${scope}" scope, which ${what} needs.`);

function requireGrant(c: DashboardContext, scope: Scope, what: string) {
  if (!grants(c.var.viewer.scopes, scope)) throw forbidden(c.var.viewer, scope, what);
}

async function reportOr404(c: DashboardContext, id: string): Promise<Report> {
  const report = isReportId(id) ? await c.var.deps.store.get(id as ReportId) : null;
  if (!report) throw new HttpProblem('not-found', `No report has the id ${id}.`);
  return report;
}

export const dashboardRouter = new Hono<DashboardEnv>();

dashboardRouter.onError((error, c) => {
  if (error instanceof HTTPException && error.status === 403) {
    return message(c, 403, 'Forbidden', 'The form did not come from this dashboard (its origin does not match).');
  }
  const { status, title, detail } = reportErrorOf(error);
  if (status >= 500) console.error(`dashboard ${c.req.method} ${c.req.path}:`, error);
  return message(c, (status === 499 ? 409 : status) as ContentfulStatusCode, title, detail);
});

dashboardRouter.get('/assets/dashboard.css', (c) => {
  c.header('Cache-Control', 'public, max-age=300');
  return c.body(DASHBOARD_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
});
dashboardRouter.get('/assets/live.js', (c) => {
  c.header('Cache-Control', 'public, max-age=300');
  return c.body(LIVE_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
});

// Every changing request: from a page of this origin (Origin or Sec-Fetch-Site), whatever it carries.
dashboardRouter.use('*', csrf());

dashboardRouter.use('*', async (c, next) => {
  const secret = c.var.dashboardSecret;
  if (!secret) {
    return message(
      c,
      503,
      'Dashboard not configured',
      'Set DASHBOARD_SECRET (32 characters or more) to sign the dashboard’s session cookies.',
    );
  }
  c.set('secret', secret);
  await next();
});

dashboardRouter.get('/sign-in', (c) => page(c, <SignInPage next={safeNext(c.req.query('next'))} />));

dashboardRouter.post('/sign-in', async (c) => {
  const form = await c.req.parseBody();
  const next = safeNext(form.next);
  const tokens = c.var.tokens;
  if (!tokens) {
    return message(
      c,
      503,
      'Service not configured',
      'No API tokens are configured (API_TOKENS), so nobody can sign in.',
    );
  }
  const token = typeof form.token === 'string' ? form.token.trim() : '';
  const entry = token ? await findToken(token, tokens) : undefined;
  if (!entry) return page(c, <SignInPage next={next} error="That token is not known." />, 401);
  await startSession(c, c.var.secret, entry);
  return c.redirect(next, 303);
});

// Everything below needs a session; a changing request also the session's CSRF token.
dashboardRouter.use('*', async (c, next) => {
  const found = await readSession(c, c.var.secret, c.var.tokens);
  if (!found) {
    endSession(c);
    const back =
      c.req.method === 'GET'
        ? `?next=${encodeURIComponent(new URL(c.req.url).pathname + new URL(c.req.url).search)}`
        : '';
    return c.redirect(`/dashboard/sign-in${back}`, 303);
  }
  const csrf = await csrfToken(c.var.secret, found.session);
  c.set('principal', found.principal);
  c.set('session', found.session);
  c.set('viewer', { name: found.principal.name, scopes: found.principal.scopes, csrf });
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const sent = (form as Record<string, unknown>).csrf;
    if (typeof sent !== 'string' || !sameToken(sent, csrf)) {
      return message(c, 403, 'Forbidden', 'The form carries no valid CSRF token: reload the page and try again.');
    }
  }
  await next();
});

dashboardRouter.post('/sign-out', (c) => {
  endSession(c);
  return c.redirect('/dashboard/sign-in', 303);
});

dashboardRouter.get('/', async (c) => {
  requireGrant(c, 'read', 'reading reports');
  const kind = REPORT_KINDS.find((k) => k === c.req.query('kind'));
  const status = RUN_STATUSES.find((s) => s === c.req.query('status'));
  const cursorParam = c.req.query('cursor');
  const cursor = cursorParam && isReportId(cursorParam) ? (cursorParam as ReportId) : undefined;
  const query = { kind, status, cursor };
  const { items, nextCursor } = await listRuns(c.var.deps.store, query);
  const running = new Map<string, Report>();
  await Promise.all(
    items
      .filter((item) => item.status === 'running')
      .map(async (item) => {
        const report = await c.var.deps.store.get(item.id as ReportId);
        if (report) running.set(item.id, report);
      }),
  );
  return page(
    c,
    <RunsPage viewer={c.var.viewer} query={query} items={items} running={running} nextCursor={nextCursor} />,
  );
});

dashboardRouter.get('/health', async (c) => {
  const health = await checkHealth(c.var.deps);
  return page(
    c,
    <HealthPage viewer={c.var.viewer} health={health} runtime={c.var.runtime} />,
    health.status === 'ok' ? 200 : 503,
  );
});

async function baselineFor(c: DashboardContext, report: Report): Promise<BaselineChoice> {
  const asked = c.req.query('baseline');
  const own = (report.baseline as { reportId?: string } | null | undefined)?.reportId;
  const id = asked === 'none' ? undefined : (asked ?? own);
  const baseline = id && isReportId(id) && id !== report.id ? await c.var.deps.store.get(id as ReportId) : null;
  const options = (await c.var.deps.store.list({ kind: 'benchmark', limit: 50 })).items.filter(
    (item) => item.id !== report.id && item.status !== 'running',
  );
  if (!baseline || baseline.kind !== 'benchmark') return { report: null, options, regressions: [], incomparable: [] };
  const compared = compareWithBaseline(
    (report.results ?? []) as PatternResult[],
    report.params as Parameters<typeof compareWithBaseline>[1],
    baseline,
  );
  return { report: baseline, options, ...compared };
}

dashboardRouter.get('/reports/:id', async (c) => {
  requireGrant(c, 'read', 'reading reports');
  const report = await reportOr404(c, c.req.param('id'));
  const changing = isChanging(report.kind, report.request);
  const viewer = c.var.viewer;
  let section: JSX.Element;
  switch (report.kind) {
    case 'migration':
    case 'rollback': {
      let lease: LeaseView | null | 'unknown' = null;
      if (report.status === 'running' && changing)
        lease = await currentLease(c.var.deps.db).catch(() => 'unknown' as const);
      section = <RunSection viewer={viewer} report={report} lease={lease} />;
      break;
    }
    case 'validation':
    case 'preflight':
      section = <ValidationSection report={report} />;
      break;
    case 'benchmark':
      section = <BenchmarkSection report={report} baseline={await baselineFor(c, report)} />;
      break;
    case 'optimization':
      section = <OptimizeSection viewer={viewer} report={report} />;
      break;
    case 'rehearsal':
      section = <RehearsalSection report={report} />;
      break;
    case 'restore':
      section = <></>; // the page's summary and the report's JSON say what it restored or refused
      break;
  }
  return page(
    c,
    <ReportPage viewer={viewer} report={report} changing={changing}>
      {section}
    </ReportPage>,
  );
});

dashboardRouter.get('/reports/:id/progress', async (c) => {
  requireGrant(c, 'read', 'reading reports');
  const report = await reportOr404(c, c.req.param('id'));
  c.header('Cache-Control', 'no-store');
  return c.json(progressView(report));
});

dashboardRouter.post('/reports/:id/cancel', async (c) => {
  requireGrant(c, 'run', 'cancelling a run');
  const report = await reportOr404(c, c.req.param('id'));
  if (isChanging(report.kind, report.request)) assertScope(c.var.principal, 'apply', 'cancelling a changing run');
  await cancelRun(c.var.deps, report);
  return c.redirect(`/dashboard/reports/${report.id}`, 303);
});

/** The request a form asks for, checked by the API's own body schema: a 400 page naming what is wrong. */
function requestOf(schema: z.ZodType<object>, body: Record<string, unknown>): object {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'the form'} ${i.message}`);
  throw new HttpProblem('bad-request', `The form is invalid: ${problems.join('; ')}.`);
}

/** A dry run's optional batch size (a form field; empty: the adaptive default). */
function batchSizeOf(form: Record<string, unknown>): { batchSize?: number } {
  const raw = typeof form.batchSize === 'string' ? form.batchSize.trim() : '';
  return raw === '' ? {} : { batchSize: Number(raw) };
}

const STARTS: Record<ReportKind, (form: Record<string, unknown>) => object> = {
  migration: (form) => requestOf(migrateBodySchema, batchSizeOf(form)),
  rollback: (form) => requestOf(rollbackBodySchema, batchSizeOf(form)),
  validation: () => requestOf(validateBodySchema, {}),
  benchmark: () => requestOf(benchmarkBodySchema, {}),
  optimization: () => requestOf(optimizeBodySchema, {}),
  rehearsal: () => {
    const { benchmark, ...rest } = requestOf(rehearseBodySchema, {}) as z.infer<typeof rehearseBodySchema>;
    return { ...rest, ...benchmark };
  },
  preflight: () => requestOf(preflightBodySchema, {}),
  restore: () => {
    throw new HttpProblem('bad-request', 'A restore names the rollback whose rows it puts back: use POST /restore.');
  },
};

/** Starts a dry run (or a read) with the API's defaults, and follows it on its page. */
dashboardRouter.post('/start/:kind', async (c) => {
  const kind = REPORT_KINDS.find((k) => k === c.req.param('kind'));
  if (!kind) throw new HttpProblem('not-found', `No operation ${c.req.param('kind')}.`);
  // A rehearsal changes nothing on the database but makes and drops a copy of it: `apply`, as its endpoint.
  requireGrant(c, kind === 'rehearsal' ? 'apply' : 'run', `starting a ${kind}`);
  const result = await startRun(c as never, kind, STARTS[kind](await c.req.parseBody()), { respondAsync: true });
  return c.redirect(`/dashboard/reports/${result.report.id}`, 303);
});

interface ApplyPlan {
  kind: ReportKind;
  request: object;
  title: string;
  what: string;
  sql?: string | undefined;
  fields: Record<string, string>;
}

const pick = (request: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => request[k] !== undefined).map((k) => [k, request[k]]));

/** What applying a dry run (or a plan's candidate) asks of the API: the same request, not a dry run. */
function applyPlanOf(report: Report, index: string | undefined): ApplyPlan {
  const notAppliable = (why: string) => new HttpProblem('bad-request', `Report ${report.id} ${why}.`);
  if (report.kind === 'optimization') {
    const candidate = ((report.recommendations ?? []) as Recommendation[]).find((r) => r.name === index);
    if (!candidate) throw notAppliable(`recommends no index named ${index ?? '(none)'}`);
    const view = candidate.kind === 'materialized view';
    return {
      kind: 'optimization',
      request: optimizeBodySchema.parse(
        view ? { action: 'apply', views: [candidate.name] } : { action: 'apply', indexes: [candidate.name] },
      ),
      title: `Build ${candidate.name}?`,
      what: view
        ? `Builds the materialized view and its indexes in one transaction (nothing is left if it fails) while holding the database's lease, times a concurrent refresh, then measures the pattern it serves before and through it. Priority ${candidate.priority}.`
        : `Builds the index concurrently (CREATE INDEX CONCURRENTLY) while holding the database's lease, then measures the queries it serves before and after. Priority ${candidate.priority}.`,
      sql: candidate.sql,
      fields: { index: candidate.name },
    };
  }
  if (report.kind !== 'migration' && report.kind !== 'rollback') throw notAppliable('is not a plan');
  if (report.dryRun !== true || report.status !== 'succeeded') throw notAppliable('is not a finished dry run');
  const request = report.request;
  if (report.kind === 'migration') {
    const summary = report.summary as { toCopy?: number; skipped?: number };
    return {
      kind: 'migration',
      request: migrateBodySchema.parse({ ...pick(request, ['batchSize', 'parallelism', 'serverIds']), dryRun: false }),
      title: 'Apply this migration?',
      what: `Copies the v1 servers and tools of this dry run into v2 (${summary.toCopy ?? '?'} rows to copy, ${summary.skipped ?? 0} skipped), batch by batch, holding the database's lease.`,
      fields: {},
    };
  }
  const summary = report.summary as { removed?: number; bornInV2?: number };
  return {
    kind: 'rollback',
    request: rollbackBodySchema.parse({
      ...pick(request, ['resourceIds', 'backportChanges', 'batchSize', 'parallelism']),
      planId: report.planId,
      dryRun: false,
    }),
    title: 'Roll back with this plan?',
    what: `Removes the v2 rows of v1 origin this dry run planned (${summary.removed ?? '?'} to remove; ${summary.bornInV2 ?? 0} born in v2), archiving each, under plan ${String(report.planId)}; refused if the database no longer matches the plan.`,
    fields: {},
  };
}

dashboardRouter.get('/reports/:id/apply', async (c) => {
  requireGrant(c, 'apply', 'applying a plan');
  const report = await reportOr404(c, c.req.param('id'));
  const plan = applyPlanOf(report, c.req.query('index'));
  return page(
    c,
    <ConfirmPage
      viewer={c.var.viewer}
      title={plan.title}
      what={plan.what}
      sql={plan.sql}
      action={`/dashboard/reports/${report.id}/apply`}
      fields={plan.fields}
      back={`/dashboard/reports/${report.id}`}
    />,
  );
});

dashboardRouter.post('/reports/:id/apply', async (c) => {
  requireGrant(c, 'apply', 'applying a plan');
  const report = await reportOr404(c, c.req.param('id'));
  const form = await c.req.parseBody();
  const plan = applyPlanOf(report, typeof form.index === 'string' ? form.index : undefined);
  const result = await startRun(c as never, plan.kind, plan.request, { respondAsync: true });
  return c.redirect(`/dashboard/reports/${result.report.id}`, 303);
});

dashboardRouter.all('*', (c) => message(c, 404, 'Not found', `The dashboard has no page ${c.req.path}.`));
