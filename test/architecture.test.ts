import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative import of every module under src/, type-only ones included, as module → modules. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolve(dirname(file), name).replace(/\.js$/, '.ts'))
      // A .tsx module is imported as .js too.
      .map((path) => (existsSync(path) || !existsSync(`${path}x`) ? path : `${path}x`));
    graph.set(relative(root, file), [...new Set(targets.map((t) => relative(root, t)))]);
  }
  return graph;
}

/** The cycles of a graph, each once, as paths that end where they start. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('the module graph', () => {
  it('has no import cycle, type-only imports included', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('finds a cycle where there is one', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });
});

describe('the layering rules (eslint.config.js)', () => {
  const eslint = new ESLint({ cwd: root });
  const restricted = async (file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: join(root, file) });
    return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').length;
  };

  it.each([
    ['src/operations/x.ts', "import { Hono } from 'hono';"],
    ['src/operations/x.ts', "import { problemResponse } from '../http/problems.js';"],
    ['src/operations/x.ts', "import pg from 'pg';"],
    ['src/operations/x.ts', "import { createPgDatabase } from '../adapters/db/pg.js';"],
    ['src/operations/rollback/x.ts', "import { poolDatabase } from '../../adapters/db/pool.js';"],
    ['src/reports/x.ts', "import { z } from '@hono/zod-openapi';"],
    ['src/mapping/x.ts', "import { migrate } from '../operations/migrate.js';"],
    ['src/sql/x.ts', "import type { AppDeps } from '../operations/deps.js';"],
    ['src/routes/x/x.handlers.ts', "import { PATTERNS } from '../../sql/benchmark.js';"],
    ['src/dashboard/x.tsx', "import { PATTERNS } from '../sql/benchmark.js';"],
    ['src/dashboard/x.tsx', "import pg from 'pg';"],
    ['src/adapters/db/x.ts', "import { HttpProblem } from '../../http/problems.js';"],
    ['src/adapters/db/x.ts', "import { runOperation } from '../../operations/runner.js';"],
    ['src/operations/x.ts', "import { readNodeConfig } from '../env.js';"],
    ['src/cli/x.ts', "import { VALIDATION_MODES } from '../reports/validation.js';"],
    ['src/cli/x.ts', "import { EXIT } from '../../src/cli/exit.js';"],
    ['src/cli/x.ts', "import { Hono } from 'hono';"],
    ['src/cli/x.ts', "import pg from 'pg';"],
  ])('refuse, in %s: %s', async (file, code) => {
    expect(await restricted(file, code)).toBe(1);
  });

  it.each([
    ['src/operations/x.ts', "import type { Database } from '../adapters/db/types.js';"],
    ['src/operations/x.ts', "import { ServiceError } from '../errors.js';"],
    ['src/routes/x/x.handlers.ts', "import { migrate } from '../../operations/migrate.js';"],
    ['src/adapters/db/x.ts', "import { ServiceError } from '../../errors.js';"],
    ['src/entry.node.ts', "import { createPgDatabase } from './adapters/db/pg.js';"],
    ['src/cli/x.ts', "import type { paths } from './api.js';"],
    ['src/cli/x.ts', "import createClient from 'openapi-fetch';"],
  ])('allow, in %s: %s', async (file, code) => {
    expect(await restricted(file, code)).toBe(0);
  });
});
