import { PGlite } from '@electric-sql/pglite';
import { serve, type ServerType } from '@hono/node-server';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../src/adapters/db/pglite.js';
import type { Database } from '../src/adapters/db/types.js';
import { makeTestApp, type TestApp } from './support/app.js';
import { seedV1 } from './support/seed.js';

/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (nothing is
 * downloaded), against the Node app served on 127.0.0.1 with an embedded database seeded with v1
 * data. Screenshots of each page go to .ci/out/screens/.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENS = join(import.meta.dirname, '..', '.ci', 'out', 'screens');
const SERVERS = 40;
const XSS = '<script>alert(1)</script>';
const OFFENDER = 'offender-gopher-1';

if (!existsSync(CHROMIUM)) {
  console.warn(`${CHROMIUM} is missing: the dashboard's browser tests are skipped (apt-get install chromium).`);
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard in chromium', () => {
  let db: Database;
  let t: TestApp;
  let server: ServerType;
  let base: string;
  let browser: Browser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENS, { recursive: true });
    db = pgliteDatabase(await PGlite.create());
    await seedV1(db, { servers: SERVERS, toolsPerServer: 2 });
    // A v1 server whose name and metadata are HTML.
    await db.query(
      `UPDATE mcp_servers SET name = $1, extra_metadata = $2 WHERE id = (SELECT id FROM mcp_servers ORDER BY id LIMIT 1)`,
      [XSS, JSON.stringify({ note: '<img src=x onerror=alert(2)>' })],
    );
    // Every batch's insert into resources takes 200 ms more: a migration of one server per batch lasts
    // about 8 s, so the page's one-second updates see the bar at several points on the way.
    await db.query(
      `CREATE OR REPLACE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$`,
    );
    await db.query(
      'CREATE TRIGGER slow_batch AFTER INSERT ON resources FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()',
    );
    t = await makeTestApp(db, { deps: { progressIntervalMs: 100 } });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await t?.settle();
    await db?.close();
  });

  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext({ baseURL: base });
    const page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    return page;
  };

  const signIn = async (page: Page, token: string) => {
    await page.goto('/dashboard');
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
    await page.screenshot({ path: join(SCREENS, 'sign-in.png'), fullPage: true });
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/dashboard`);
  };

  /** Waits for the report page to show an ended run (the live script reloads it when the run ends). */
  const untilEnded = async (page: Page) => {
    await expect
      .poll(async () => (await page.locator('main dl.facts dd').first().textContent())?.trim(), { timeout: 60_000 })
      .not.toMatch(/running/);
  };

  it('signs in, starts a migration and watches its progress bar move to the end', async () => {
    const page = await newPage();
    await signIn(page, t.tokens.admin);
    await page.screenshot({ path: join(SCREENS, 'runs.png'), fullPage: true });

    await page.getByLabel('Batch size').first().fill('1');
    await page.getByRole('button', { name: 'Migration dry run' }).click();
    await page.waitForURL(/\/dashboard\/reports\//);
    await untilEnded(page);
    await page.getByRole('link', { name: 'Apply this migration…' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Apply this migration?');
    await page.screenshot({ path: join(SCREENS, 'confirm-migration.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/\/dashboard\/reports\//);

    // The bar, as the page shows it, while the run goes on: it moves without a reload.
    const seen: { value: number; max: number; url: string }[] = [];
    const url = page.url();
    let status: string | null = null;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await page.waitForTimeout(150)) {
      const bar = await page
        .locator('#run-progress')
        .evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max }))
        .catch(() => null); // the page reloading itself at the end
      if (bar) seen.push({ ...bar, url: page.url() });
      if (seen.length === 8) await page.screenshot({ path: join(SCREENS, 'migration-running.png'), fullPage: true });
      status = await page
        .locator('main dl.facts dd')
        .first()
        .textContent({ timeout: 5_000 })
        .catch(() => null);
      if (status && !status.includes('running')) break;
    }
    // What the test saw goes with every failure below, so a slow machine's failure says what it was.
    const story = JSON.stringify({ status, seen });
    expect(status, story).toContain('succeeded');
    // The ended run's page (reloaded by the script when the run ended): the bar is full.
    await expect
      .poll(
        () =>
          page
            .locator('#run-progress')
            .evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max, url: location.href }))
            .catch((error: Error) => error.message),
        { message: story, timeout: 10_000 },
      )
      .toMatchObject({ value: SERVERS, max: SERVERS, url });
    const moving = [...new Set(seen.filter((s) => s.max === SERVERS && s.value < SERVERS).map((s) => s.value))];
    expect(moving.length, story).toBeGreaterThanOrEqual(3); // it moved, step by step
    expect(moving, story).toEqual([...moving].sort((a, b) => a - b));
    await expect.poll(() => page.locator('main').textContent()).toContain(`${SERVERS} of ${SERVERS} batches`);
    await page.screenshot({ path: join(SCREENS, 'migration.png'), fullPage: true });
  }, 240_000); // its waits (the dry run 60 s, the migration 90 s) fit in it: a slow machine fails on what was slow

  it('opens a failed validation and finds its offending ids, HTML ones shown as text', async () => {
    // A v2 application's resources breaking error checks: a sensitivity level SARK does not know,
    // and an empty endpoint on one whose id, name and protocol are HTML.
    await db.query(
      `INSERT INTO resources (id, name, protocol, endpoint, sensitivity_level) VALUES ($1, 'x', 'http', 'x', 'extreme')`,
      [OFFENDER],
    );
    await db.query(`INSERT INTO resources (id, name, protocol, endpoint) VALUES ($1, $1, '<b>x</b>', '')`, [XSS]);
    const page = await newPage();
    await signIn(page, t.tokens.admin);
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.waitForURL(/\/dashboard\/reports\//);
    await untilEnded(page);
    await expect.poll(() => page.locator('#exit-code').textContent()).toBe('1');
    await expect(page.getByText(OFFENDER, { exact: true }).first().isVisible()).resolves.toBe(true);
    await expect(page.getByText(XSS, { exact: true }).first().isVisible()).resolves.toBe(true);
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: join(SCREENS, 'validation.png'), fullPage: true });
  });

  it('opens a benchmark and sees one chart mark per pattern and the runbook target lines', async () => {
    const page = await newPage();
    await signIn(page, t.tokens.admin);
    await page.getByRole('button', { name: 'Benchmark' }).click();
    await page.waitForURL(/\/dashboard\/reports\//);
    await untilEnded(page);
    const id = page.url().split('/').at(-1)!;
    const report = await (await t.call('GET', `/reports/${id}`, { as: 'reader' })).json();
    const measured = report.results.filter((r: { p50Ms: number | null }) => r.p50Ms !== null);
    expect(measured.length).toBeGreaterThan(0);
    await expect(page.locator('svg.chart .mark').count()).resolves.toBe(measured.length);
    for (const r of measured)
      await expect(page.locator(`svg.chart g[data-pattern="${r.pattern}"] .mark`).count()).resolves.toBe(1);
    const targeted = report.results.filter((r: { targetMs: number | null }) => r.targetMs !== null).length;
    expect(targeted).toBeGreaterThan(0);
    await expect(page.locator('svg.chart line.target').count()).resolves.toBe(targeted);
    await page.screenshot({ path: join(SCREENS, 'benchmark.png'), fullPage: true });
  });

  it('shows a read session no apply button and no start buttons', async () => {
    // The migration's dry run, whose page offers an apply-holder to apply it.
    const { items } = await t.store.list({ kind: 'migration', limit: 10 });
    const reports = await Promise.all(items.map(async (i) => (await t.store.get(i.id as never))!));
    const plan = reports.find((r) => r.dryRun === true && r.status === 'succeeded')!;
    const page = await newPage();
    await signIn(page, t.tokens.reader);
    await expect(page.getByRole('button', { name: 'Migration dry run' }).count()).resolves.toBe(0);
    await page.goto(`/dashboard/reports/${plan.id}`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Migration report');
    await expect(page.getByRole('link', { name: /Apply/ }).count()).resolves.toBe(0);
    await expect(page.getByRole('button').allTextContents()).resolves.toEqual(['Sign out']);
    await page.screenshot({ path: join(SCREENS, 'read-session.png'), fullPage: true });
    await page.goto('/dashboard/health');
    await page.screenshot({ path: join(SCREENS, 'health.png'), fullPage: true });
    expect(dialogs).toEqual([]);
  });

  it('renders /docs from this service alone: no request leaves it', async () => {
    const page = await newPage();
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) elsewhere.push(request.url());
    });
    await page.goto('/docs');
    // The reference rendered the service's own document (its title, its tags).
    await expect
      .poll(() => page.getByRole('heading', { name: 'sark-migrate' }).first().isVisible(), { timeout: 30_000 })
      .toBe(true);
    await expect.poll(() => page.getByText('Reports').first().isVisible(), { timeout: 30_000 }).toBe(true);
    await page.screenshot({ path: join(SCREENS, 'docs.png') });
    expect(elsewhere).toEqual([]);
  });
});
