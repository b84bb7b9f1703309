import { describe, expect, it } from 'vitest';
import { runLoad } from '../scripts/load/run.js';

/**
 * `npm run load` in small (scripts/load/run.ts): the Node service as child processes on a real
 * PostgreSQL, 5 s of autocannon on GET /reports and POST /validate, 20 changing runs at once on
 * one process and on two. It asserts the rules only, never a speed: the machine is shared.
 */
describe.runIf(process.env.TEST_DATABASE_URL)('the Node service under load', () => {
  it('answers no 5xx, 429 only to a shared token, and runs exactly one of 20 changing runs, on one process and on two', async () => {
    const result = await runLoad({
      serverUrl: process.env.TEST_DATABASE_URL!,
      servers: 300,
      tools: 3,
      durationS: 5,
      connections: 16,
      users: 5,
      changingRuns: 20,
      timeoutS: 60,
      // A one-batch migration of 300 servers ends in well under a second: held to a second, so
      // the 19 others certainly arrive while it runs.
      slowBatchMs: 1_000,
    });
    expect(result.violations).toEqual([]);

    const [listing, users, oneUser] = result.mixed!.groups;
    expect(listing).toMatchObject({ request: 'GET /reports', connections: 8 });
    expect(users).toMatchObject({ callers: '5 users, 1 connection each', statuses: { 200: expect.any(Number) } });
    expect(Object.keys(users!.statuses)).toEqual(['200']);
    // Three connections of one token: the rule was met, and answered 429, not 5xx.
    expect(oneUser!.statuses['429']).toBeGreaterThan(0);
    for (const scenario of [result.oneProcess!, result.twoProcesses!]) {
      expect(scenario.winner).not.toBeNull();
      expect(scenario.refused).toBe(19);
    }
  }, 120_000);
});
