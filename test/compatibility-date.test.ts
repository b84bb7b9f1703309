import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `wrangler dev` and the Workers suite run the workerd that wrangler and vitest-pool-workers
// install (through miniflare). Its release date, the YYYYMMDD in its version 1.YYYYMMDD.N, is the
// newest compatibility date it implements. workerd still starts, without a word, with a date up to
// a week past that, so a compatibility_date newer than the local runtime would deploy changes that
// `wrangler dev` and the tests never ran. Bump wrangler (and vitest-pool-workers) first, then the date.

const root = fileURLToPath(new URL('..', import.meta.url));
const configured = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(
  readFileSync(join(root, 'wrangler.toml'), 'utf8'),
)?.[1];

/** The directory of package `name` as Node finds it from `fromDir` (whatever the package exports). */
function packageDir(fromDir: string, name: string): string {
  for (const dir of createRequire(join(fromDir, 'package.json')).resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  throw new Error(`${name} is not installed where ${fromDir} looks for it`);
}

/** Follows a dependency chain from the project root; returns the last package's version. */
function versionVia(chain: string[]): string {
  const dir = chain.reduce(packageDir, root);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

describe("wrangler.toml's compatibility_date", () => {
  it('is set', () => {
    expect(configured).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  for (const chain of [
    ['wrangler', 'miniflare', 'workerd'],
    ['@cloudflare/vitest-pool-workers', 'miniflare', 'workerd'],
  ]) {
    it(`is not newer than the workerd that ${chain[0]} runs`, () => {
      const version = versionVia(chain);
      const [, y, m, d] = /^1\.(\d{4})(\d{2})(\d{2})\.\d+$/.exec(version) ?? [];
      expect(y, `workerd ${version} does not look like 1.YYYYMMDD.N`).toBeDefined();
      const supported = `${y}-${m}-${d}`;
      expect(
        configured! <= supported,
        `compatibility_date ${configured} is newer than ${supported}, the newest date workerd ${version} ` +
          `(${chain.join(' -> ')}) supports: set compatibility_date to ${supported} or earlier, or upgrade wrangler`,
      ).toBe(true);
    });
  }
});
