import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A reports folder whose writes really fail for a while (no mock: the file store gets the
 * operating system's own error). Made read-only (0555) where that binds; as root, which write
 * permissions do not stop, the folder is swapped for a regular file, so every path below it
 * fails with ENOTDIR (reads too). repair() gives the folder back with what it held.
 */
export interface FailingFolder {
  path: string;
  /** How its writes fail: 'read-only' (EACCES) or 'not a folder' (ENOTDIR, root). */
  how: 'read-only' | 'not a folder';
  fail(): Promise<void>;
  repair(): Promise<void>;
}

export async function failingFolder(): Promise<FailingFolder> {
  const base = await mkdtemp(join(tmpdir(), 'sark-failing-'));
  const path = join(base, 'reports-dir');
  // The store writes into reports/ below its folder: both must refuse.
  const folders = [path, join(path, 'reports')];
  await mkdir(folders[1]!, { recursive: true });
  const root = process.getuid?.() === 0;
  return {
    path,
    how: root ? 'not a folder' : 'read-only',
    async fail() {
      if (!root) {
        for (const folder of folders) await chmod(folder, 0o555);
        return;
      }
      await rename(path, `${path}.away`);
      await writeFile(path, 'not a folder\n');
    },
    async repair() {
      if (!root) {
        for (const folder of folders) await chmod(folder, 0o755);
        return;
      }
      await rm(path);
      await rename(`${path}.away`, path);
    },
  };
}
