import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsObjectStore } from '../src/adapters/storage/fs.js';
import { createReportStore } from '../src/reports/store.js';
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
