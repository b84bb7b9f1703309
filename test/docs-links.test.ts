import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every relative link in README.md and docs/ names a file or folder that exists and, with a
 * #fragment, a heading of that file as GitHub slugs it. Absolute URLs are not fetched.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** README.md and every Markdown file under docs/, as paths relative to root. */
function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  if (existsSync(path.join(root, 'docs'))) walk('docs');
  return ['README.md', ...found.sort()];
}

/** The file's lines with fenced code blocks blanked, so neither links nor headings are read inside them. */
function proseLines(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      return '';
    }
    return line;
  });
}

const CODE_SPAN = /(`+)([\s\S]*?[^`])\1(?!`)/g;

/** Each link target with its line: inline links and images, reference definitions, href/src attributes. */
function linksOf(markdown: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  proseLines(markdown).forEach((raw, index) => {
    const line = raw.replace(CODE_SPAN, (span) => ' '.repeat(span.length));
    const patterns = [
      /!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+["'(][^)]*)?\)/g,
      /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/g,
      /\b(?:href|src)\s*=\s*["']([^"']*)["']/g,
    ];
    for (const pattern of patterns)
      for (const match of line.matchAll(pattern)) found.push({ target: match[1]!, line: index + 1 });
  });
  return found;
}

/** GitHub's heading id: lowercase, punctuation other than '-' and '_' dropped, each space a '-'. */
function slug(heading: string): string {
  const text = heading
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .split(CODE_SPAN)
    .map((part, i, parts) => {
      // split() with two groups gives [prose, ticks, code, prose, ticks, code, ...]: keep code verbatim.
      if (i % 3 === 1) return '';
      if (i % 3 === 2) return parts[i];
      return part.replace(/(^|[^\p{L}\p{N}])[*_]+|[*_]+(?=[^\p{L}\p{N}]|$)/gu, '$1'); // emphasis markers
    })
    .join('')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The fragment ids a Markdown file offers: its headings (numbered when repeated) and explicit HTML ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string) => {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  const lines = proseLines(markdown);
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(line);
    if (atx) add(atx[1] ?? '');
    const previous = lines[i - 1] ?? '';
    // A setext heading: a paragraph line underlined with = or -.
    if (/^ {0,3}(=+|-+)\s*$/.test(line) && previous.trim() !== '' && !/^ {0,3}([#>|*+-]|\d+[.)])/.test(previous))
      add(previous.trim());
    for (const match of line.matchAll(/<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/g)) anchors.add(match[1]!);
  });
  return anchors;
}

/** What is wrong with each relative link of `file` (relative to root): a missing target or an unknown heading. */
function brokenLinks(root: string, file: string): string[] {
  const source = readFileSync(path.join(root, file), 'utf8');
  const problems: string[] = [];
  for (const { target, line } of linksOf(source)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // absolute: http:, https:, mailto:, ...
    const where = `${file}:${line}: ${target}`;
    const hash = target.indexOf('#');
    const filePart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const fragment = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const resolved = filePart.startsWith('/')
      ? path.join(root, filePart)
      : filePart === ''
        ? path.join(root, file)
        : path.join(root, path.dirname(file), filePart);
    if (path.relative(root, resolved).startsWith('..')) {
      problems.push(`${where} leaves the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where} names no file or folder`);
      continue;
    }
    if (fragment === null) continue;
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
      // GitHub's only fragments on other files are line numbers.
      if (!/^L\d+(-L\d+)?$/.test(fragment)) problems.push(`${where} has a fragment, but its target is not Markdown`);
      continue;
    }
    if (!anchorsOf(readFileSync(resolved, 'utf8')).has(fragment))
      problems.push(`${where} names no heading of ${path.relative(root, resolved)}`);
  }
  return problems;
}

describe('relative links in README.md and docs/', () => {
  const files = markdownFiles(ROOT);

  it('checks README.md and every page under docs/', () => {
    expect(files[0]).toBe('README.md');
    expect(files.filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(0);
  });

  it.each(files)('%s: every relative link names an existing file and heading', (file) => {
    expect(brokenLinks(ROOT, file)).toEqual([]);
  });
});

describe('the link checker', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'docs-links-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'docs'));
  mkdirSync(path.join(root, 'src'));
  writeFileSync(path.join(root, 'src', 'app.ts'), '');
  writeFileSync(
    path.join(root, 'docs', 'guide.md'),
    [
      '# Guide',
      '## Deploying to Cloudflare, step by step',
      '## `POST /migrate` and _its_ report',
      '## Notes',
      '## Notes',
      'Setext heading',
      '--------------',
      '<a id="custom-anchor"></a>',
      '```md',
      '# not a heading',
      '[not a link](missing.md)',
      '```',
    ].join('\n'),
  );

  it('slugs headings as GitHub does', () => {
    expect(slug('Deploying to Cloudflare, step by step')).toBe('deploying-to-cloudflare-step-by-step');
    expect(slug('`POST /migrate` and _its_ report')).toBe('post-migrate-and-its-report');
    expect(slug('/benchmark beside pgbench (100,000 × 10)')).toBe('benchmark-beside-pgbench-100000--10');
    expect(slug('The `sark_migrate` schema')).toBe('the-sark_migrate-schema');
  });

  it('accepts links to existing files, folders and headings, and skips absolute URLs and code', () => {
    writeFileSync(
      path.join(root, 'README.md'),
      [
        '[guide](docs/guide.md) [folder](src/) [file](src/app.ts) [line](src/app.ts#L3)',
        '[a](docs/guide.md#deploying-to-cloudflare-step-by-step) [b](docs/guide.md#post-migrate-and-its-report)',
        '[c](docs/guide.md#notes-1) [d](docs/guide.md#setext-heading) [e](docs/guide.md#custom-anchor)',
        '[web](https://example.com/missing.md) [mail](mailto:a@example.com) `[code](missing.md)`',
        '[ref]: ./docs/guide.md#guide',
        '# Top',
        '[self](#top)',
      ].join('\n'),
    );
    expect(brokenLinks(root, 'README.md')).toEqual([]);
    expect(brokenLinks(root, 'docs/guide.md')).toEqual([]);
  });

  it('reports a missing file, a missing heading, a fragment on code and a link out of the repository', () => {
    writeFileSync(
      path.join(root, 'README.md'),
      [
        '[gone](docs/gone.md)',
        '[heading](docs/guide.md#no-such-heading) [twice](docs/guide.md#notes-2)',
        '[code](src/app.ts#createApp) [out](../elsewhere.md)',
        '![image](docs/missing.png)',
      ].join('\n'),
    );
    expect(brokenLinks(root, 'README.md')).toEqual([
      'README.md:1: docs/gone.md names no file or folder',
      'README.md:2: docs/guide.md#no-such-heading names no heading of docs/guide.md',
      'README.md:2: docs/guide.md#notes-2 names no heading of docs/guide.md',
      'README.md:3: src/app.ts#createApp has a fragment, but its target is not Markdown',
      'README.md:3: ../elsewhere.md leaves the repository',
      'README.md:4: docs/missing.png names no file or folder',
    ]);
  });
});
