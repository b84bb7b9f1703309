import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsObjectStore } from '../src/adapters/storage/fs.js';
import { createReportStore } from '../src/reports/store.js';
import { failingFolder } from './support/failing-folder.js';
import { describeReportStoreContract } from './support/store-contract.js';

const freshFolder = () => mkdtemp(join(tmpdir(), 'sark-reports-'));

describeReportStoreContract('files', async () => createReportStore(fsObjectStore(await freshFolder())));

describe('file object store', () => {
  it('refuses keys that could leave its folder', async () => {
    const store = fsObjectStore(await freshFolder());
    for (const key of ['../escape.json', 'reports/../../x', '/etc/passwd', 'reports/.hidden', 'Reports/UPPER']) {
      await expect(store.put(key, '{}', {}), key).rejects.toThrow(/refused object key/);
      await expect(store.get(key), key).rejects.toThrow(/refused object key/);
    }
  });

  it('leaves no temporary file behind and lists a missing folder as empty', async () => {
    const folder = await freshFolder();
    const store = fsObjectStore(join(folder, 'not-yet'));
    expect(await store.list({ prefix: 'reports/', limit: 10 })).toEqual({ objects: [], truncated: false });
    await store.put('reports/a.json', '{"a":1}', { kind: 'x' });
    expect(await readdir(join(folder, 'not-yet', 'reports'))).toEqual(['a.json']);
    expect(await store.get('reports/a.json')).toBe('{"a":1}');
  });
});

describe('file object store, seen from two processes on one folder', () => {
  const keysOf = async (store: ReturnType<typeof fsObjectStore>) =>
    (await store.list({ prefix: 'reports/', limit: 100 })).objects.map((o) => o.key);

  it("lists what the other wrote, whether or not its folder's last reading is kept", async () => {
    const folder = await freshFolder();
    const [writer, reader] = [fsObjectStore(folder), fsObjectStore(folder)];
    await writer.put('reports/b.json', '{}', { kind: 'x' });
    expect(await keysOf(reader)).toEqual(['reports/b.json']);
    // Past the timestamp granularity: the reader keeps this reading, and must see the next put all the same.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await keysOf(reader)).toEqual(['reports/b.json']);
    await writer.put('reports/a.json', '{}', { kind: 'x' });
    expect(await keysOf(reader)).toEqual(['reports/a.json', 'reports/b.json']);
    await writer.put('reports/c.json', '{}', { kind: 'x' });
    expect(await keysOf(reader)).toEqual(['reports/a.json', 'reports/b.json', 'reports/c.json']);
  });
});

describe('file object store check', () => {
  it('makes a missing folder and passes, without listing it', async () => {
    const folder = join(await freshFolder(), 'later');
    await fsObjectStore(folder).check('reports/');
    expect(await readdir(folder)).toEqual(['reports']);
  });

  it('fails where the folder cannot be written', async () => {
    const failing = await failingFolder();
    const store = fsObjectStore(failing.path);
    await store.check('reports/');
    await failing.fail();
    try {
      await expect(store.check('reports/')).rejects.toThrow();
    } finally {
      await failing.repair();
    }
    await store.check('reports/');
  });
});
