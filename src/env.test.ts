import { describe, expect, it } from 'vitest';
import { databaseTargetOf, isNeonUrl, readNodeConfig, readWorkerConfig } from './env.js';

describe('configuration', () => {
  it('reads defaults and API_TOKENS entries, lowercasing the hashes', () => {
    const config = readNodeConfig({
      API_TOKENS: JSON.stringify([{ name: 'ci', sha256: 'AB'.repeat(32), scopes: ['read'] }]),
    });
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 8787,
      host: '127.0.0.1',
      reportsDir: '.sark-migrate/reports',
    });
    expect(config.apiTokens).toEqual([{ name: 'ci', sha256: 'ab'.repeat(32), scopes: ['read'] }]);
  });

  it('names the bad variable and never echoes its value', () => {
    const secret = 'postgres://admin:hunter2@db.internal:5432/sark';
    const attempts: Record<string, string>[] = [
      { DATABASE_URL: secret.replace('postgres://', 'mysql://') },
      { API_TOKENS: '[{"name":"x","sha256":"hunter2","scopes":["read"]}]' },
      { API_TOKENS: 'hunter2' },
      { API_TOKENS: JSON.stringify([{ name: 'x', sha256: 'a'.repeat(64), scopes: ['root'] }]) },
      { PORT: 'hunter2' },
      { DASHBOARD_SECRET: 'hunter2' }, // shorter than 32 characters
    ];
    for (const env of attempts) {
      const name = Object.keys(env)[0]!;
      expect(() => readNodeConfig(env), name).toThrow(name);
      try {
        readNodeConfig(env);
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });

  it("refuses Neon's -pooler host: the advisory lock needs a session of its own", () => {
    expect(() =>
      readWorkerConfig({ DATABASE_URL: 'postgres://u:p@ep-cool-name-123-pooler.eu-central-1.aws.neon.tech/sark' }),
    ).toThrow(/-pooler/);
    // A postgres:// URL keeps its host's case: the pooler is refused however it is spelt.
    expect(() =>
      readWorkerConfig({ DATABASE_URL: 'postgres://u:p@EP-Cool-Name-123-POOLER.eu-central-1.aws.neon.tech/sark' }),
    ).toThrow(/-pooler/);
    expect(
      readWorkerConfig({ DATABASE_URL: 'postgres://u:p@ep-cool-name-123.eu-central-1.aws.neon.tech/sark' }).databaseUrl,
    ).toContain('ep-cool-name-123.');
  });

  it("reads Neon's prices for /preflight, naming a bad one, and tells /preflight the host and Neon", () => {
    expect(readNodeConfig({}).neonPricing).toEqual({});
    const config = readWorkerConfig({
      DATABASE_URL: 'postgres://u:p@ep-x.eu-central-1.aws.neon.tech/db',
      NEON_COMPUTE_CU: '2',
      NEON_CU_HOUR_USD: '0.26',
      NEON_STORAGE_GB_MONTH_USD: '',
    });
    expect(config.neonPricing).toEqual({ computeCu: 2, cuHourUsd: 0.26 });
    expect(databaseTargetOf(config)).toEqual({
      host: 'ep-x.eu-central-1.aws.neon.tech',
      neon: true,
      neonPricing: { computeCu: 2, cuHourUsd: 0.26 },
    });
    expect(databaseTargetOf(readNodeConfig({}))).toEqual({ host: null, neon: false, neonPricing: {} });
    expect(() => readNodeConfig({ NEON_COMPUTE_CU: '0' })).toThrow(/NEON_COMPUTE_CU: must be a number from 0.25 to 64/);
    expect(() => readNodeConfig({ NEON_CU_HOUR_USD: 'cheap' })).toThrow(/NEON_CU_HOUR_USD/);
    expect(() => readNodeConfig({ NEON_STORAGE_GB_MONTH_USD: '-1' })).toThrow(/NEON_STORAGE_GB_MONTH_USD/);
  });

  it('tells Neon hosts from any other', () => {
    expect(isNeonUrl('postgres://u:p@ep-x.eu-central-1.aws.neon.tech/db')).toBe(true);
    expect(isNeonUrl('postgres://u:p@127.0.0.1:5432/db')).toBe(false);
    expect(isNeonUrl('postgres://u:p@neon.tech.evil.example/db')).toBe(false);
  });

  it('reads the Slack door: off without a secret, principals checked, NOTIFY_ALLOW_PRIVATE a flag', () => {
    expect(readNodeConfig({})).toMatchObject({ slack: undefined, notifyAllowPrivate: false });
    const principals = [
      { team: 'T0123', user: 'U0456', scopes: ['apply'] },
      { team: 'T0123', scopes: ['read'] },
    ];
    const on = readWorkerConfig({
      SLACK_SIGNING_SECRET: 'shh',
      SLACK_PRINCIPALS: JSON.stringify(principals),
      NOTIFY_ALLOW_PRIVATE: 'true',
    });
    expect(on).toMatchObject({ slack: { signingSecret: 'shh', principals }, notifyAllowPrivate: true });
    expect(readNodeConfig({ SLACK_SIGNING_SECRET: 'shh' }).slack).toEqual({ signingSecret: 'shh', principals: [] });
    for (const bad of [
      'hunter2',
      JSON.stringify([{ team: 'hunter2', scopes: ['read'] }]),
      JSON.stringify([{ team: 'T1', scopes: ['root'] }]),
    ]) {
      expect(() => readNodeConfig({ SLACK_PRINCIPALS: bad })).toThrow('SLACK_PRINCIPALS');
      expect(() => readWorkerConfig({ SLACK_PRINCIPALS: bad })).toThrow(/^(?![\s\S]*hunter2)/);
    }
    expect(() => readNodeConfig({ NOTIFY_ALLOW_PRIVATE: 'yes' })).toThrow('NOTIFY_ALLOW_PRIVATE');
  });

  it('reads NOTIFY_SECRET in the whsec_ form and NOTIFY_URL only with it, by the notify policy', () => {
    const key = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(readNodeConfig({})).toMatchObject({ notifyUrl: undefined, notifySecret: undefined });
    const on = readWorkerConfig({ NOTIFY_SECRET: key, NOTIFY_URL: 'https://ci.example.com/hook' });
    expect(on).toMatchObject({ notifySecret: key, notifyUrl: 'https://ci.example.com/hook' });
    for (const bad of ['hunter2', 'whsec_hunter2!', `whsec_${Buffer.alloc(8).toString('base64')}`]) {
      expect(() => readNodeConfig({ NOTIFY_SECRET: bad })).toThrow('NOTIFY_SECRET');
      expect(() => readNodeConfig({ NOTIFY_SECRET: bad })).toThrow(/^(?![\s\S]*hunter2)/);
    }
    expect(() => readNodeConfig({ NOTIFY_URL: 'https://ci.example.com/hook' })).toThrow(
      /NOTIFY_URL: needs NOTIFY_SECRET/,
    );
    expect(() => readNodeConfig({ NOTIFY_SECRET: key, NOTIFY_URL: 'http://ci.example.com/hook' })).toThrow(/https/);
    expect(() => readNodeConfig({ NOTIFY_SECRET: key, NOTIFY_URL: 'https://10.0.0.1/hook' })).toThrow(/private/);
    const local = { NOTIFY_SECRET: key, NOTIFY_URL: 'http://127.0.0.1:9/hook', NOTIFY_ALLOW_PRIVATE: 'true' };
    expect(readNodeConfig(local).notifyUrl).toBe('http://127.0.0.1:9/hook');
  });

  it('reads NEON_API_KEY and NEON_PROJECT_ID only together, for rehearsals on Neon branches', () => {
    expect(readNodeConfig({}).neonApi).toBeUndefined();
    const both = { NEON_API_KEY: 'napi_x', NEON_PROJECT_ID: 'steep-forest-123456' };
    expect(readNodeConfig(both).neonApi).toEqual({
      apiKey: 'napi_x',
      projectId: 'steep-forest-123456',
      branchId: undefined,
      apiUrl: undefined,
    });
    expect(readWorkerConfig({ ...both, NEON_BRANCH_ID: 'br-main-1' }).neonApi?.branchId).toBe('br-main-1');
    expect(() => readNodeConfig({ NEON_API_KEY: 'napi_x' })).toThrow(/NEON_PROJECT_ID: needed with NEON_API_KEY/);
    expect(() => readNodeConfig({ NEON_PROJECT_ID: 'steep-forest-123456' })).toThrow(/NEON_API_KEY: needed/);
    const bad = () => readNodeConfig({ ...both, NEON_PROJECT_ID: 'Not A Project' });
    expect(bad).toThrow(/NEON_PROJECT_ID: must be a Neon project id/);
    expect(bad).not.toThrow(/napi_x/);
  });
});
