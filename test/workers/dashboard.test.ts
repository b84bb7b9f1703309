import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import { newReportId } from '../../src/reports/ids.js';
import { createReportStore } from '../../src/reports/store.js';
import { getPage, signIn, type Send } from '../support/dashboard.js';
import { sampleReport } from '../support/store-contract.js';
import { fetchWorker, workerBindings } from './harness.js';

// The dashboard's read pages on the Worker: sign-in, the runs page, a report, the 404 page.
const { readToken } = inject('sarkWorkers');
const ORIGIN = 'https://sark-migrate.test';
const send: Send = (path, init) => fetchWorker(path, init);

describe('dashboard on the Worker', () => {
  it('sends a visitor without a session to the sign-in form', async () => {
    const response = await getPage(send, '/dashboard', null);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/dashboard/sign-in?next=%2Fdashboard');
    const form = await getPage(send, '/dashboard/sign-in', null);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('type="password"');
  });

  it('signs in into a Secure session cookie and shows the runs and a report from R2', async () => {
    const report = sampleReport('validation', {
      status: 'failed',
      exitCode: 1,
      checks: [
        {
          name: 'data.servers_fidelity',
          severity: 'error',
          passed: false,
          message: 'A server differs.',
          details: {},
          sample: ['<b>offender</b>'],
        },
      ],
    });
    await createReportStore(r2ObjectStore(env.REPORTS)).put(report);

    const response = await send('/dashboard/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN },
      body: new URLSearchParams({ token: readToken }).toString(),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('set-cookie')).toMatch(/HttpOnly/);
    expect(response.headers.get('set-cookie')).toMatch(/Secure/);
    const cookie = await signIn(send, readToken, ORIGIN);

    const runs = await getPage(send, '/dashboard', cookie);
    expect(runs.status).toBe(200);
    const html = await runs.text();
    expect(html).toContain(`href="/dashboard/reports/${report.id}"`);
    expect(html).not.toContain('Migration dry run'); // a read session starts nothing

    const page = await getPage(send, `/dashboard/reports/${report.id}`, cookie);
    expect(page.status).toBe(200);
    const reportHtml = await page.text();
    expect(reportHtml).toContain('id="exit-code">1<');
    expect(reportHtml).toContain('&lt;b&gt;offender&lt;/b&gt;');

    expect((await getPage(send, `/dashboard/reports/${newReportId()}`, cookie)).status).toBe(404);
  });

  it('says the dashboard is not configured without DASHBOARD_SECRET', async () => {
    const { DASHBOARD_SECRET: _unset, ...bindings } = workerBindings();
    const response = await fetchWorker('/dashboard/sign-in', {}, bindings);
    expect(response.status).toBe(503);
  });
});

describe('/docs on the Worker', () => {
  it('serves the API reference and its script from the bundle, not from a CDN', async () => {
    const html = await (await fetchWorker('/docs')).text();
    expect(html).toContain('<script src="/docs/api-reference.js"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetchWorker('/docs/api-reference.js');
    expect(script.status).toBe(200);
    const body = await script.text();
    expect(body.length).toBeGreaterThan(1_000_000);
    expect(body).toContain('createApiReference');
  });
});
