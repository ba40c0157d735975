import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { open, mkdir, rename, rm, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A unique suffix for temporary siblings. */
function suffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** fsync a file or directory; directories cannot be fsynced on some platforms (ignored there). */
async function fsyncPath(path: string, isDir: boolean): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (e) {
    if (!isDir) throw e;
  } finally {
    await handle?.close();
  }
}

function ioError(fn: string, what: string, e: unknown): DenseHybridError {
  return new DenseHybridError('IO', `${fn}: expected to ${what}, got ${(e as Error).message}`, {
    cause: e,
  });
}

/** Writes bytes to `path` and fsyncs it (not atomic by itself). */
export async function writeFileSynced(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a file atomically: temporary sibling, fsync, rename over, fsync the directory. */
export async function writeFileAtomic(fn: string, path: string, bytes: Uint8Array): Promise<void> {
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${suffix()}`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFileSynced(tmp, bytes);
    await rename(tmp, target);
    await fsyncPath(dirname(target), true);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(fn, `write ${JSON.stringify(path)}`, e);
  }
}

/**
 * Writes a directory atomically. `fill(tmpDir)` writes (and fsyncs) the files into a temporary
 * sibling directory; then an existing `dir` is renamed aside, the new one renamed in, and the old
 * one removed. A crash leaves either the old or the new directory under `dir`, or (between the two
 * renames) the old one under a `.NAME.old-*` sibling that {@link recoverDirectory} finds.
 */
export async function writeDirectoryAtomic(
  fn: string,
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const name = basename(target);
  const tmp = join(parent, `.${name}.tmp-${suffix()}`);
  let old: string | undefined;
  try {
    await mkdir(parent, { recursive: true });
    await mkdir(tmp);
    await fill(tmp);
    await fsyncPath(tmp, true);
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (exists) {
      old = join(parent, `.${name}.old-${suffix()}`);
      await rename(target, old);
    }
    await rename(tmp, target);
    await fsyncPath(parent, true);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (old !== undefined) {
      // Put the previous directory back if the new one did not make it.
      const present = await stat(target).then(
        () => true,
        () => false,
      );
      if (!present) await rename(old, target).catch(() => undefined);
    }
    throw ioError(fn, `write the directory ${JSON.stringify(dir)}`, e);
  }
  if (old !== undefined) await rm(old, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * When `dir` is missing but a previous version was renamed aside by an interrupted
 * {@link writeDirectoryAtomic}, returns that sibling's path (newest first) if it holds `marker`.
 */
export async function recoverDirectory(dir: string, marker: string): Promise<string | undefined> {
  const target = resolve(dir);
  const parent = dirname(target);
  const prefix = `.${basename(target)}.old-`;
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return undefined;
  }
  const candidates: { path: string; mtime: number }[] = [];
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const path = join(parent, e);
    const s = await stat(join(path, marker)).catch(() => undefined);
    if (s !== undefined) candidates.push({ path, mtime: s.mtimeMs });
  }
  candidates.sort((a, b) => b.mtime - a.mtime);
  return candidates[0]?.path;
}
