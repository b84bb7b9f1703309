import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { assertSafeKey, type ObjectMeta, type ObjectStore } from './types.js';

/**
 * Objects as files under one folder. Each file starts with one line of JSON metadata, so a
 * listing reads a small head of each file and never the whole body.
 */
export function fsObjectStore(folder: string): ObjectStore {
  const root = resolve(folder);
  const pathOf = (key: string) => {
    assertSafeKey(key);
    return join(root, ...key.split('/'));
  };

  async function readMeta(path: string): Promise<ObjectMeta> {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const head = buffer.subarray(0, bytesRead).toString('utf8');
      const end = head.indexOf('\n');
      return end < 0 ? {} : (JSON.parse(head.slice(0, end)) as ObjectMeta);
    } finally {
      await handle.close();
    }
  }

  /** Keys of every file below dir, ascending; the tree is shallow (prefix/key). */
  async function walk(dir: string, prefix: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const keys: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temporary files of an unfinished put
      const key = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) keys.push(...(await walk(join(dir, entry.name), key)));
      else keys.push(key);
    }
    return keys.sort();
  }

  return {
    kind: 'fs',
    async put(key, body, meta) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Write then rename: a reader never sees half a report.
      const temporary = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
      await writeFile(temporary, `${JSON.stringify(meta)}\n${body}`, 'utf8');
      await rename(temporary, path);
    },
    async get(key) {
      try {
        const content = await readFile(pathOf(key), 'utf8');
        return content.slice(content.indexOf('\n') + 1);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async list({ prefix, startAfter, limit }) {
      const folderPrefix = prefix.slice(0, prefix.lastIndexOf('/') + 1).replace(/\/$/, '');
      const all = (await walk(folderPrefix ? pathOf(folderPrefix) : root, folderPrefix)).filter(
        (key) => key.startsWith(prefix) && (startAfter === undefined || key > startAfter),
      );
      const page = all.slice(0, limit);
      const objects = await Promise.all(page.map(async (key) => ({ key, meta: await readMeta(pathOf(key)) })));
      return { objects, truncated: all.length > limit };
    },
  };
}
