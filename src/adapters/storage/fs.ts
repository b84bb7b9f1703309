import { createReadStream } from 'node:fs';
import { access, constants, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { assertSafeKey, chunksOf, type ObjectMeta, type ObjectStore } from './types.js';

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

  /** The folder that holds a prefix's keys (`reports/` → reports), as a key and as a path. */
  const folderOf = (prefix: string) => {
    const folderPrefix = prefix.slice(0, prefix.lastIndexOf('/') + 1).replace(/\/$/, '');
    return { folderPrefix, dir: folderPrefix ? pathOf(folderPrefix) : root };
  };

  /**
   * A folder's sorted entries as last read, by the folder's mtime: a listing of a folder of tens
   * of thousands of reports reads it again only when a file came or went. A folder changed
   * within the file system's timestamp granularity of the read is not kept (a change in the same
   * tick would leave its mtime as it was).
   */
  const entriesRead = new Map<string, { mtimeMs: number; entries: { name: string; folder: boolean }[] }>();
  const TICK_MS = 100;

  async function entriesOf(dir: string): Promise<{ name: string; folder: boolean }[]> {
    const stats = await stat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!stats) return [];
    const known = entriesRead.get(dir);
    if (known && known.mtimeMs === stats.mtimeMs) return known.entries;
    const readAt = Date.now();
    const entries = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => !entry.name.startsWith('.')) // temporary files of an unfinished put
      .map((entry) => ({ name: entry.name, folder: entry.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (readAt - stats.mtimeMs > TICK_MS) entriesRead.set(dir, { mtimeMs: stats.mtimeMs, entries });
    else entriesRead.delete(dir);
    return entries;
  }

  /** Keys of every file below dir, ascending; the tree is shallow (prefix/key). */
  async function walk(dir: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (const entry of await entriesOf(dir)) {
      const key = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.folder) keys.push(...(await walk(join(dir, entry.name), key)));
      else keys.push(key);
    }
    return keys;
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
    async putStream(key, body, meta) {
      // The body as it is (gunzip reads the file), its metadata beside it in a hidden file.
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const temporary = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
      const handle = await open(temporary, 'w');
      let bytes = 0;
      try {
        for await (const chunk of chunksOf(body)) {
          await handle.write(chunk);
          bytes += chunk.length;
        }
        await handle.close();
      } catch (error) {
        await handle.close().catch(() => undefined);
        await rm(temporary, { force: true });
        throw error;
      }
      await writeFile(join(dirname(path), `.${basename(path)}.meta.json`), JSON.stringify(meta), 'utf8');
      await rename(temporary, path);
      return { bytes };
    },
    async getStream(key) {
      const path = pathOf(key);
      const exists = await stat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
      return exists ? (Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>) : null;
    },
    async list({ prefix, startAfter, limit }) {
      const { folderPrefix, dir } = folderOf(prefix);
      const all = (await walk(dir, folderPrefix)).filter(
        (key) => key.startsWith(prefix) && (startAfter === undefined || key > startAfter),
      );
      const page = all.slice(0, limit);
      const objects = await Promise.all(page.map(async (key) => ({ key, meta: await readMeta(pathOf(key)) })));
      return { objects, truncated: all.length > limit };
    },
    async check(prefix) {
      // The prefix's folder is there (or can be made) and can be written: no listing of its files.
      const { dir } = folderOf(prefix);
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    },
  };
}
