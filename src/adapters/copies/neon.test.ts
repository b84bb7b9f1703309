import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import type { BranchCreateRequest } from '@neondatabase/api-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../db/pglite.js';
import type { Database } from '../db/types.js';
import { neonCopies } from './neon.js';

/**
 * Neon's API cannot be reached from here: a real HTTP server on localhost answers the three
 * endpoints the adapter uses, as Neon documents them, and records what it was sent. The
 * adapter's calls are typed by @neondatabase/api-client's published types (npm run typecheck).
 */
interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: unknown;
}

const KEY = 'napi_test_key_not_a_secret';
const PROJECT = 'steep-forest-123456';
const SOURCE_URL = 'postgresql://sark_owner:s3cret@ep-cool-dawn-123456.eu-central-1.aws.neon.tech/sark?sslmode=require';
const BRANCH_URI =
  'postgresql://sark_owner:s3cret@ep-new-branch-654321.eu-central-1.aws.neon.tech/sark?sslmode=require';

let server: Server;
let compute: PGlite;
let apiUrl: string;
let seen: Seen[];
/** Per path-and-method, what the fake answers (status, JSON), else the happy answer. */
let answers: Record<string, { status: number; body: unknown }>;

const readBody = (req: IncomingMessage) =>
  new Promise<unknown>((resolve) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => resolve(text ? JSON.parse(text) : null));
  });

beforeAll(async () => {
  compute = await PGlite.create();
}, 60_000);
afterAll(() => compute.close());

beforeEach(async () => {
  seen = [];
  answers = {};
  server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, 'http://localhost');
      const entry: Seen = {
        method: req.method!,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorization: req.headers.authorization,
        body: await readBody(req),
      };
      seen.push(entry);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const key = `${entry.method} ${entry.path}`;
      if (answers[key]) return send(answers[key].status, answers[key].body);
      if (entry.method === 'POST' && entry.path === `/api/v2/projects/${PROJECT}/branches`) {
        const name = (entry.body as BranchCreateRequest).branch?.name;
        return send(201, {
          branch: { id: 'br-rehearsal-1', project_id: PROJECT, name, parent_id: 'br-main-1' },
          endpoints: [{ id: 'ep-new-branch-654321', branch_id: 'br-rehearsal-1', type: 'read_write' }],
          operations: [],
          roles: [],
          databases: [],
          connection_uris: [],
        });
      }
      if (entry.method === 'GET' && entry.path === `/api/v2/projects/${PROJECT}/connection_uri`)
        return send(200, { uri: BRANCH_URI });
      if (entry.method === 'DELETE' && entry.path === `/api/v2/projects/${PROJECT}/branches/br-rehearsal-1`)
        return send(200, { branch: { id: 'br-rehearsal-1' }, operations: [] });
      send(404, { message: 'not found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2`;
});

afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** The adapter, its opened copies recorded: a PGlite stands in for the branch's compute. */
function adapter(options: { branchId?: string } = {}) {
  const opened: { url: string; db: Database }[] = [];
  const copies = neonCopies({
    apiKey: KEY,
    projectId: PROJECT,
    branchId: options.branchId,
    apiUrl,
    sourceUrl: SOURCE_URL,
    open: (url) => {
      // Shared by the tests: closing a copy leaves it open for the next.
      const db: Database = { ...pgliteDatabase(compute), close: async () => undefined };
      opened.push({ url, db });
      return db;
    },
  });
  return { copies, opened };
}

describe('neonCopies against a local server that answers as Neon does', { timeout: 60_000 }, () => {
  it('creates a branch with a read-write endpoint, opens its direct connection string, and deletes the branch', async () => {
    const { copies, opened } = adapter({ branchId: 'br-main-1' });
    expect(copies).toMatchObject({ method: 'neon-branch', canKeep: true });
    const copy = await copies.create('sark_rehearsal_0190abc');

    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      `POST /api/v2/projects/${PROJECT}/branches`,
      `GET /api/v2/projects/${PROJECT}/connection_uri`,
    ]);
    expect(seen.every((s) => s.authorization === `Bearer ${KEY}`)).toBe(true);
    expect(seen[0]!.body).toEqual({
      branch: { name: 'sark_rehearsal_0190abc', parent_id: 'br-main-1' },
      endpoints: [{ type: 'read_write' }],
    });
    // The direct (non-pooled) string of the new branch's endpoint, for the source's database and role.
    expect(seen[1]!.query).toEqual({
      branch_id: 'br-rehearsal-1',
      endpoint_id: 'ep-new-branch-654321',
      database_name: 'sark',
      role_name: 'sark_owner',
      pooled: 'false',
    });
    expect(opened.map((o) => o.url)).toEqual([BRANCH_URI]);
    expect(copy.db).toBe(opened[0]!.db);
    expect(copy.name).toBe('sark_rehearsal_0190abc');
    expect(copy.reach).toContain('br-rehearsal-1');
    expect(copy.reach).not.toContain('s3cret');
    expect(copy.reach).not.toContain('ep-new-branch');

    await copy.drop();
    await copy.drop(); // once only
    expect(seen.slice(2).map((s) => `${s.method} ${s.path}`)).toEqual([
      `DELETE /api/v2/projects/${PROJECT}/branches/br-rehearsal-1`,
    ]);
  });

  it("branches the project's default branch when NEON_BRANCH_ID is not set", async () => {
    const { copies } = adapter();
    const copy = await copies.create('sark_rehearsal_0190abd');
    expect(seen[0]!.body).toEqual({ branch: { name: 'sark_rehearsal_0190abd' }, endpoints: [{ type: 'read_write' }] });
    await copy.drop();
  });

  it('deletes the branch it made when the connection string cannot be had, and says why (409 copy-refused)', async () => {
    answers[`GET /api/v2/projects/${PROJECT}/connection_uri`] = { status: 500, body: { message: 'compute is gone' } };
    const { copies, opened } = adapter();
    await expect(copies.create('sark_rehearsal_0190abe')).rejects.toMatchObject({
      kind: 'copy-refused',
      message: expect.stringContaining('compute is gone'),
    });
    expect(opened).toEqual([]);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      `POST /api/v2/projects/${PROJECT}/branches`,
      `GET /api/v2/projects/${PROJECT}/connection_uri`,
      `DELETE /api/v2/projects/${PROJECT}/branches/br-rehearsal-1`,
    ]);
  });

  it('refuses with the API status and message, never the key, when the branch is not made', async () => {
    answers[`POST /api/v2/projects/${PROJECT}/branches`] = { status: 401, body: { message: 'authorization failed' } };
    const { copies } = adapter();
    const refused = (await copies.create('sark_rehearsal_0190abf').then(
      () => new Error('created'),
      (e: unknown) => e,
    )) as Error;
    expect(refused).toMatchObject({ kind: 'copy-refused', facts: { neonStatus: 401 } });
    expect(refused.message).toContain('(401): authorization failed');
    expect(refused.message).not.toContain(KEY);
    expect(seen).toHaveLength(1);
  });

  it('takes only names the service makes', async () => {
    const { copies } = adapter();
    await expect(copies.create('Robert"); DROP')).rejects.toThrow('not a copy name');
    expect(seen).toEqual([]);
  });
});
