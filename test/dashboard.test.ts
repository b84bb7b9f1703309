import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { newReportId } from '../src/reports/ids.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { csrfOf, getPage, ORIGIN, postForm, sessionCookie, signIn, type Send } from './support/dashboard.js';
import { describeEachDatabase, type TestDatabase } from './support/databases.js';
import { seedV1 } from './support/seed.js';
import { sampleReport } from './support/store-contract.js';

const XSS = '<script>alert(1)</script>';
const HTML_METADATA = '<img src=x onerror=alert(2)>';

const sender =
  (t: TestApp): Send =>
  async (path, init) =>
    t.app.request(path, init);

/** Until the report has ended (a respond-async run started from the dashboard). */
async function ended(t: TestApp, id: string) {
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 25))) {
    const report = await (await t.call('GET', `/reports/${id}`, { as: 'reader' })).json();
    if (report.status !== 'running') return report;
    if (Date.now() > deadline) throw new Error(`report ${id} still running`);
  }
}

const reportIdOf = (response: Response) => {
  const location = response.headers.get('location') ?? '';
  expect(location).toMatch(/^\/dashboard\/reports\/[0-9a-f-]{36}$/);
  return location.split('/').at(-1)!;
};

afterEach(() => vi.restoreAllMocks());

describeEachDatabase('dashboard', (current) => {
  let t: TestApp;
  let send: Send;
  const fresh = async (db: TestDatabase) => {
    await db.db.query('DROP SCHEMA IF EXISTS sark_migrate CASCADE');
    await db.db.query(
      'DROP TABLE IF EXISTS capabilities, resources, cost_tracking, federation_nodes, principal_budgets',
    );
    await db.db.query('DROP TABLE IF EXISTS mcp_tools, mcp_servers');
    await seedV1(db.db, { servers: 12, toolsPerServer: 2 });
    t = await makeTestApp(db.db);
    send = sender(t);
  };
  beforeAll(() => fresh(current()));

  it('sends a visitor without a session to the sign-in form, and back where they were going after it', async () => {
    for (const path of ['/dashboard', `/dashboard/reports/${newReportId()}`, '/dashboard/health']) {
      const response = await getPage(send, path, null);
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location'), path).toBe(`/dashboard/sign-in?next=${encodeURIComponent(path)}`);
    }
    const form = await getPage(send, '/dashboard/sign-in?next=%2Fdashboard%2Fhealth', null);
    expect(form.status).toBe(200);
    const html = await form.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('type="password"');
    expect(html).toContain('value="/dashboard/health"');
    // Only a dashboard path is a place to go back to.
    const away = await getPage(send, '/dashboard/sign-in?next=https%3A%2F%2Fevil.example', null);
    expect(await away.text()).toContain('name="next" value="/dashboard"');
  });

  it('signs in with a known token into a signed, HttpOnly, SameSite=Strict cookie that holds no token', async () => {
    const refused = await send('/dashboard/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
      body: 'token=smk_not-a-token',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect(await refused.text()).toContain('not known');

    const response = await send('/dashboard/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
      body: new URLSearchParams({ token: t.tokens.admin, next: '/dashboard/health' }).toString(),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/dashboard/health');
    const set = response.headers.get('set-cookie')!;
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/dashboard/);
    expect(set).toMatch(/Max-Age=3600/);
    expect(set).not.toMatch(/Secure/); // plain http
    expect(set).not.toContain(t.tokens.admin);
    expect(set).not.toContain(t.entries.find((e) => e.name === 'admin')!.sha256);

    const secure = await t.app.request('https://sark.example/dashboard/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://sark.example' },
      body: new URLSearchParams({ token: t.tokens.admin }).toString(),
    });
    expect(secure.headers.get('set-cookie')).toMatch(/Secure/);

    const page = await getPage(send, '/dashboard/health', sessionCookie(response));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Signed in as <strong>admin</strong>');
    expect(html).toMatch(/Database[\s\S]*pglite|Database[\s\S]*(pg|neon)/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('sends an expired or forged cookie back to the sign-in form', async () => {
    const cookie = await signIn(send, t.tokens.reader);
    expect((await getPage(send, '/dashboard', cookie)).status).toBe(200);

    const later = Date.now() + 61 * 60 * 1000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    const expired = await getPage(send, '/dashboard', cookie);
    expect(expired.status).toBe(303);
    expect(expired.headers.get('location')).toMatch(/^\/dashboard\/sign-in/);
    vi.restoreAllMocks();

    // The payload rewritten (a read session made apply), its signature kept.
    const value = decodeURIComponent(cookie.slice('sark_dashboard='.length));
    const [payload, signature] = [value.slice(0, value.lastIndexOf('.')), value.slice(value.lastIndexOf('.') + 1)];
    const session = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...session, scopes: ['read', 'run', 'apply'] })).toString(
      'base64url',
    );
    for (const forged of [
      `sark_dashboard=${encodeURIComponent(`${forgedPayload}.${signature}`)}`,
      `sark_dashboard=${encodeURIComponent(`${payload}.${'A'.repeat(signature.length - 1)}=`)}`,
      'sark_dashboard=garbage',
    ]) {
      const response = await getPage(send, '/dashboard', forged);
      expect(response.status, forged).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/dashboard\/sign-in/);
    }
  });

  it('answers an unknown report, a malformed id and an unknown page with a 404 page', async () => {
    const cookie = await signIn(send, t.tokens.reader);
    for (const path of [`/dashboard/reports/${newReportId()}`, '/dashboard/reports/not-an-id', '/dashboard/nowhere']) {
      const response = await getPage(send, path, cookie);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toContain('Not found');
    }
  });

  it('lists reports newest first with actor and duration, filtered by kind and status', async () => {
    const older = sampleReport('validation', { status: 'failed', actor: 'ci-bot' });
    const newer = sampleReport('benchmark', { status: 'succeeded', actor: 'ops' });
    await t.store.put(older);
    await t.store.put(newer);
    const cookie = await signIn(send, t.tokens.reader);
    const html = await (await getPage(send, '/dashboard', cookie)).text();
    const link = (id: string) => `href="/dashboard/reports/${id}"`;
    expect(html.indexOf(link(newer.id))).toBeGreaterThan(-1);
    expect(html.indexOf(link(newer.id))).toBeLessThan(html.indexOf(link(older.id)));
    expect(html).toContain('ci-bot');
    const failed = await (await getPage(send, '/dashboard?status=failed', cookie)).text();
    expect(failed).toContain(link(older.id));
    expect(failed).not.toContain(link(newer.id));
    const benchmarks = await (await getPage(send, '/dashboard?kind=benchmark', cookie)).text();
    expect(benchmarks).toContain(link(newer.id));
    expect(benchmarks).not.toContain(link(older.id));
  });

  it('refuses a changing POST without the CSRF token or from another origin (403), and runs it with both', async () => {
    const cookie = await signIn(send, t.tokens.admin);
    const csrf = csrfOf(await (await getPage(send, '/dashboard', cookie)).text());
    const before = (await t.store.list({ limit: 100 })).items.length;
    const noToken = await postForm(send, '/dashboard/start/migration', cookie, {});
    expect(noToken.status).toBe(403);
    const wrongToken = await postForm(send, '/dashboard/start/migration', cookie, { csrf: `${csrf.slice(1)}x` });
    expect(wrongToken.status).toBe(403);
    const crossSite = await postForm(send, '/dashboard/start/migration', cookie, { csrf }, 'https://evil.example');
    expect(crossSite.status).toBe(403);
    const noOrigin = await postForm(send, '/dashboard/start/migration', cookie, { csrf }, null);
    expect(noOrigin.status).toBe(403);
    expect((await t.store.list({ limit: 100 })).items.length).toBe(before); // nothing ran

    const started = await postForm(send, '/dashboard/start/migration', cookie, { csrf });
    expect(started.status).toBe(303);
    const report = await ended(t, reportIdOf(started));
    expect(report).toMatchObject({ kind: 'migration', dryRun: true, actor: 'admin', status: 'succeeded' });
  });

  it('shows a read session no buttons, and refuses its POSTs with 403', async () => {
    const admin = await signIn(send, t.tokens.admin);
    const adminRuns = await (await getPage(send, '/dashboard', admin)).text();
    expect(adminRuns.match(/method="post"/g)!.length).toBeGreaterThan(1); // its start buttons
    const adminCsrf = csrfOf(adminRuns);
    const plan = await ended(
      t,
      reportIdOf(await postForm(send, '/dashboard/start/migration', admin, { csrf: adminCsrf })),
    );
    const adminPage = await (await getPage(send, `/dashboard/reports/${plan.id}`, admin)).text();
    expect(adminPage).toContain(`/dashboard/reports/${plan.id}/apply`);

    const reader = await signIn(send, t.tokens.reader);
    const runs = await (await getPage(send, '/dashboard', reader)).text();
    const readerPage = await (await getPage(send, `/dashboard/reports/${plan.id}`, reader)).text();
    for (const html of [runs, readerPage]) {
      // No changing form but signing out (the filters are GET forms).
      expect(html.match(/method="post"/g)).toHaveLength(1);
      expect(html).toContain('action="/dashboard/sign-out"');
      expect(html).not.toContain('/apply');
    }
    const csrf = csrfOf(runs);
    expect((await postForm(send, '/dashboard/start/migration', reader, { csrf })).status).toBe(403);
    expect((await postForm(send, `/dashboard/reports/${plan.id}/apply`, reader, { csrf })).status).toBe(403);
    expect((await getPage(send, `/dashboard/reports/${plan.id}/apply`, reader)).status).toBe(403);
  });

  it('applies a migration dry run behind a confirmation, and the report page shows its batches and rate', async () => {
    const cookie = await signIn(send, t.tokens.admin);
    const csrf = csrfOf(await (await getPage(send, '/dashboard', cookie)).text());
    const plan = await ended(t, reportIdOf(await postForm(send, '/dashboard/start/migration', cookie, { csrf })));
    const confirm = await (await getPage(send, `/dashboard/reports/${plan.id}/apply`, cookie)).text();
    expect(confirm).toContain('Apply this migration?');
    const applied = await postForm(send, `/dashboard/reports/${plan.id}/apply`, cookie, { csrf });
    expect(applied.status).toBe(303);
    const report = await ended(t, reportIdOf(applied));
    expect(report).toMatchObject({ kind: 'migration', dryRun: false, status: 'succeeded', actor: 'admin' });
    expect(report.summary.copied).toBe(12 + 24);
    const html = await (await getPage(send, `/dashboard/reports/${report.id}`, cookie)).text();
    expect(html).toContain(`${report.batches.committed} of ${report.batches.planned} batches`);
    expect(html).toMatch(/\d[\d,]* rows\/s/);
    expect(html).not.toContain('http-equiv="refresh"'); // it has ended

    // And back: a rollback dry run, applied with its planId behind its confirmation.
    const rollbackPlan = await ended(
      t,
      reportIdOf(await postForm(send, '/dashboard/start/rollback', cookie, { csrf })),
    );
    const rollbackConfirm = await (await getPage(send, `/dashboard/reports/${rollbackPlan.id}/apply`, cookie)).text();
    expect(rollbackConfirm).toContain(rollbackPlan.planId);
    const rolledBack = await ended(
      t,
      reportIdOf(await postForm(send, `/dashboard/reports/${rollbackPlan.id}/apply`, cookie, { csrf })),
    );
    expect(rolledBack).toMatchObject({
      kind: 'rollback',
      dryRun: false,
      planId: rollbackPlan.planId,
      status: 'succeeded',
    });
    expect(rolledBack.request).toMatchObject({ dryRun: false, planId: rollbackPlan.planId });
  });

  it('renders names, ids and metadata holding HTML as text', async () => {
    const db = current();
    await db.db.query(
      `UPDATE mcp_servers SET name = $1, extra_metadata = $2 WHERE id = (SELECT id FROM mcp_servers ORDER BY id LIMIT 1)`,
      [XSS, JSON.stringify({ note: HTML_METADATA })],
    );
    // A v2 application wrote resources whose id, name, protocol and metadata are HTML: one of
    // protocol mcp (a rollback lists it as born in v2), one of a protocol validation flags.
    for (const [id, protocol] of [
      [XSS, 'mcp'],
      [`${XSS}-b`, '<b>proto</b>'],
    ])
      await db.db.query(`INSERT INTO resources (id, name, protocol, endpoint, metadata) VALUES ($1, $1, $2, 'x', $3)`, [
        id,
        protocol,
        JSON.stringify({ html: HTML_METADATA }),
      ]);
    const cookie = await signIn(send, t.tokens.admin);
    const csrf = csrfOf(await (await getPage(send, '/dashboard', cookie)).text());
    const validation = await ended(
      t,
      reportIdOf(await postForm(send, '/dashboard/start/validation', cookie, { csrf })),
    );
    expect(JSON.stringify(validation.checks)).toContain(XSS); // the offending id is in the report
    const html = await (await getPage(send, `/dashboard/reports/${validation.id}`, cookie)).text();
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain(XSS);
    const rollback = await ended(t, reportIdOf(await postForm(send, '/dashboard/start/rollback', cookie, { csrf })));
    const rollbackHtml = await (await getPage(send, `/dashboard/reports/${rollback.id}`, cookie)).text();
    expect(rollbackHtml).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(rollbackHtml).not.toContain('<script>alert');
    // Metadata with HTML in a report's request (a benchmark's metadata filter) stays text too.
    const bench = sampleReport('benchmark', {
      status: 'succeeded',
      request: { params: { metadataFilter: { note: HTML_METADATA } } },
      results: [],
    });
    await t.store.put(bench);
    const benchHtml = await (await getPage(send, `/dashboard/reports/${bench.id}`, cookie)).text();
    expect(benchHtml).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(benchHtml).not.toContain(HTML_METADATA);
  });

  it('says it is not configured without DASHBOARD_SECRET', async () => {
    const app = createApp({ acquire: () => ({ deps: t.deps, tokens: t.entries, runtime: 'node' }) });
    const response = await app.request('/dashboard/sign-in');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('DASHBOARD_SECRET');
  });

  it('follows a running report: a live region the script polls, a reload without JavaScript, and its progress as JSON', async () => {
    const running = sampleReport('migration', {
      status: 'running',
      finishedAt: null,
      durationMs: null,
      dryRun: false,
      request: { dryRun: false },
      summary: { message: 'Running.' },
      progress: { done: 3, total: 8, updatedAt: new Date().toISOString(), stepsPerSecond: 1.5, etaSeconds: 4 },
    });
    await t.store.put(running);
    const cookie = await signIn(send, t.tokens.reader);
    const html = await (await getPage(send, `/dashboard/reports/${running.id}`, cookie)).text();
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="3"/></noscript>');
    expect(html).toContain('<script src="/dashboard/assets/live.js" defer="">');
    expect(html).toContain(`data-live="/dashboard/reports/${running.id}/progress"`);
    expect(html).toContain('<progress id="run-progress" value="3" max="8"');
    expect(html).toContain('4.0 s'); // the time left
    expect(html).not.toContain('Cancel this run'); // cancelling a changing run needs apply
    const progress = await getPage(send, `/dashboard/reports/${running.id}/progress`, cookie);
    expect(await progress.json()).toMatchObject({ status: 'running', done: 3, total: 8, text: '3 of 8 batches' });
    expect((await getPage(send, `/dashboard/reports/${running.id}/progress`, null)).status).toBe(303);
    const script = await getPage(send, '/dashboard/assets/live.js', null);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('data-live');
  });

  it('cancels a running migration from its page', async () => {
    const db = current();
    await db.db.query('DELETE FROM capabilities');
    await db.db.query('DELETE FROM resources');
    await db.db.query(
      `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.1); RETURN NULL; END $$`,
    );
    await db.db.query('DROP TRIGGER IF EXISTS slow_batch ON resources');
    await db.db.query(
      'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
    );
    try {
      const started = await t.call('POST', '/migrate', {
        body: { dryRun: false, batchSize: 1, parallelism: 1 },
        headers: { Prefer: 'respond-async' },
      });
      expect(started.status).toBe(202);
      const { id } = await started.json();
      const cookie = await signIn(send, t.tokens.admin);
      const page = await (await getPage(send, `/dashboard/reports/${id}`, cookie)).text();
      expect(page).toContain('Cancel this run');
      expect(page).toMatch(/Lease holder<\/dt><dd id="run-lease">.*this run/);
      const cancelled = await postForm(send, `/dashboard/reports/${id}/cancel`, cookie, { csrf: csrfOf(page) });
      expect(cancelled.status).toBe(303);
      expect(cancelled.headers.get('location')).toBe(`/dashboard/reports/${id}`);
      expect(await ended(t, id)).toMatchObject({ status: 'cancelled', actor: 'admin' });
    } finally {
      await db.db.query('DROP TRIGGER IF EXISTS slow_batch ON resources');
    }
  });

  it('answers a form the API schema refuses with a 400 page naming the field', async () => {
    const cookie = await signIn(send, t.tokens.admin);
    const csrf = csrfOf(await (await getPage(send, '/dashboard', cookie)).text());
    const response = await postForm(send, '/dashboard/start/migration', cookie, { csrf, batchSize: '0' });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('batchSize');
  });

  it('builds a recommended index only after a confirmation that shows its SQL', async () => {
    const name = 'ix_capabilities_input_schema_type';
    const sql = `CREATE INDEX CONCURRENTLY ${name} ON capabilities ((input_schema->>'type'))`;
    const plan = sampleReport('optimization', {
      status: 'succeeded',
      action: 'plan',
      indexes: [],
      applied: [],
      recommendations: [
        {
          name,
          sql,
          origin: 'plan',
          purpose: 'a test',
          patterns: [],
          evidence: ['<i>evidence</i>'],
          evaluation: { method: 'unevaluated' },
          priority: 'high',
          state: 'absent',
          writeOverhead: {},
        },
      ],
    });
    await t.store.put(plan);
    const reader = await signIn(send, t.tokens.reader);
    expect(await (await getPage(send, `/dashboard/reports/${plan.id}`, reader)).text()).not.toContain('/apply');
    const cookie = await signIn(send, t.tokens.admin);
    const page = await (await getPage(send, `/dashboard/reports/${plan.id}`, cookie)).text();
    expect(page).toContain('&lt;i&gt;evidence&lt;/i&gt;');
    expect(page).toContain(`/dashboard/reports/${plan.id}/apply?index=${name}`);
    const confirm = await (await getPage(send, `/dashboard/reports/${plan.id}/apply?index=${name}`, cookie)).text();
    expect(confirm).toContain(
      `<code>CREATE INDEX CONCURRENTLY ${name} ON capabilities ((input_schema-&gt;&gt;&#39;type&#39;))</code>`,
    );
    expect(confirm).toContain(`name="index" value="${name}"`);
    const unknown = await getPage(send, `/dashboard/reports/${plan.id}/apply?index=ix_nowhere`, cookie);
    expect(unknown.status).toBe(400);
    const applied = await postForm(send, `/dashboard/reports/${plan.id}/apply`, cookie, {
      csrf: csrfOf(confirm),
      index: name,
    });
    expect(applied.status).toBe(303);
    const report = await ended(t, reportIdOf(applied));
    expect(report).toMatchObject({
      kind: 'optimization',
      action: 'apply',
      actor: 'admin',
      request: { indexes: [name] },
    });
  });

  it('pages the runs by the store cursor, a status filter reading on past the reports it skips', async () => {
    const stored = [];
    for (let i = 0; i < 30; i++) {
      const report = sampleReport('validation', { status: i % 3 === 0 ? 'critical' : 'passed', actor: `pager-${i}` });
      await t.store.put(report);
      stored.push(report);
    }
    const cookie = await signIn(send, t.tokens.reader);
    const critical = stored.filter((r) => r.status === 'critical').map((r) => r.id);
    const html = await (await getPage(send, '/dashboard?kind=validation&status=critical', cookie)).text();
    const listed = [...html.matchAll(/href="\/dashboard\/reports\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(listed.slice(0, critical.length)).toEqual([...critical].reverse()); // newest first, all ten

    const first = await (await getPage(send, '/dashboard?kind=validation', cookie)).text();
    const older = /href="(\/dashboard\?[^"]*cursor=[^"]+)" rel="next"/.exec(first);
    expect(older).not.toBeNull();
    const firstIds = [...first.matchAll(/href="\/dashboard\/reports\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(firstIds).toHaveLength(25);
    const second = await (await getPage(send, older![1]!.replace(/&amp;/g, '&'), cookie)).text();
    const secondIds = [...second.matchAll(/href="\/dashboard\/reports\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(secondIds.length).toBeGreaterThan(0);
    expect(secondIds.filter((id) => firstIds.includes(id))).toEqual([]); // no report twice
    expect(secondIds[0]! < firstIds.at(-1)!).toBe(true); // and older
  });
});
