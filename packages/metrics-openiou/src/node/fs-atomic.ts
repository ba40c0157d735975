/**
 * Atomic file and folder writes on plain `node:fs` (the one implementation every densehybrid
 * package uses): a reader sees the old content or the new one, never half of it.
 */
import { randomBytes } from 'node:crypto';
import { cp, open, mkdir, rename, rm, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DenseHybridError } from '../errors.js';

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

/**
 * Writes `data` (bytes, or a string as UTF-8) to `path` and fsyncs it (not atomic by itself: for
 * files inside a folder that {@link writeDirectoryAtomic} publishes).
 *
 * @example
 * ```ts
 * await writeDirectoryAtomic('save', 'out/model', (tmp) => writeFileSynced(join(tmp, 'a.json'), '{}'));
 * ```
 */
export async function writeFileSynced(path: string, bytes: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file atomically: a temporary sibling, fsync, rename over `path`, fsync the folder.
 * Creates missing folders. `fn` names the caller in error messages (default `writeFileAtomic`).
 *
 * @param fn - the caller's name for messages (optional first argument)
 * @param path - the file to replace
 * @param data - bytes, or a string written as UTF-8
 * @throws DenseHybridError `IO` naming the path when the folder or file cannot be written (the
 *   temporary file is removed)
 * @example
 * ```ts
 * await writeFileAtomic('run/metrics.json', JSON.stringify(metrics));
 * await writeFileAtomic('writeSafetensors', 'model/weights.safetensors', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
export async function writeFileAtomic(
  fn: string,
  path: string,
  data: string | Uint8Array,
): Promise<void>;
export async function writeFileAtomic(
  a: string,
  b: string | Uint8Array,
  c?: string | Uint8Array,
): Promise<void> {
  const [fn, path, data] = c === undefined ? ['writeFileAtomic', a, b] : [a, b as string, c];
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${suffix()}`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFileSynced(tmp, data);
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
 *
 * @throws DenseHybridError `IO` naming the folder (the previous folder is put back)
 * @example
 * ```ts
 * await writeDirectoryAtomic('saveCheckpoint', 'runs/ckpt', async (tmp) => {
 *   await writeFileSynced(join(tmp, 'meta.json'), JSON.stringify(meta));
 * });
 * ```
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
    if (await exists(target)) {
      old = join(parent, `.${name}.old-${suffix()}`);
      await rename(target, old);
    }
    await rename(tmp, target);
    await fsyncPath(parent, true);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (old !== undefined) {
      // Put the previous directory back if the new one did not make it.
      if (!(await exists(target))) await rename(old, target).catch(() => undefined);
    }
    throw ioError(fn, `write the directory ${JSON.stringify(dir)}`, e);
  }
  if (old !== undefined) await rm(old, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * When `dir` is missing but a previous version was renamed aside by an interrupted
 * {@link writeDirectoryAtomic}, returns that sibling's path (newest first) if it holds `marker`.
 *
 * @example
 * ```ts
 * const dir = (await stat('runs/ckpt').catch(() => null)) ? 'runs/ckpt' : await recoverDirectory('runs/ckpt', 'meta.json');
 * ```
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

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Options of {@link openStagedDir}. */
export interface StagedDirOptions {
  /**
   * Keep what an interrupted earlier run left in the staging folder (so the command can skip
   * finished work); otherwise the staging folder starts empty.
   * @default true
   */
  readonly resume?: boolean;
}

/** A staging folder that becomes the output folder on {@link StagedDir.commit}. */
export interface StagedDir {
  /** The final output folder. */
  readonly outDir: string;
  /** Where to write now (`<out>.partial`). */
  readonly dir: string;
  /** Whether the staging folder already held files from an interrupted run. */
  readonly resumed: boolean;
  /**
   * Publishes the staged files: files of an existing output folder that this run did not write
   * are kept (merged), then the staging folder replaces the output folder with two renames.
   */
  commit(): Promise<void>;
  /** Deletes the staging folder. */
  discard(): Promise<void>;
}

/**
 * Opens a staging folder beside `outDir` so that an existing output folder is never
 * half-overwritten: everything is written to `<out>.partial`, then {@link StagedDir.commit}
 * swaps it in (`<out>` → `<out>.previous`, `<out>.partial` → `<out>`, remove `.previous`). A crash
 * between the two renames is repaired on the next open. An interrupted run leaves
 * `<out>.partial` behind, which the next run resumes from. (Unlike {@link writeDirectoryAtomic},
 * the staging folder has a fixed name, so work survives an interruption.)
 *
 * @throws DenseHybridError `IO` when the folder cannot be created or published
 * @example
 * ```ts
 * const staged = await openStagedDir('reports/eval');
 * await writeFileAtomic(join(staged.dir, 'metrics.json'), '{}');
 * await staged.commit();
 * ```
 */
export async function openStagedDir(
  outDir: string,
  options: StagedDirOptions = {},
): Promise<StagedDir> {
  const dir = `${outDir}.partial`;
  const previous = `${outDir}.previous`;
  try {
    if (!(await exists(outDir)) && (await exists(previous))) await rename(previous, outDir);
    else if (await exists(previous)) await rm(previous, { recursive: true, force: true });
    let resumed = false;
    if (await exists(dir)) {
      if (options.resume ?? true) resumed = true;
      else await rm(dir, { recursive: true, force: true });
    }
    await mkdir(dir, { recursive: true });
    return {
      outDir,
      dir,
      resumed,
      async commit() {
        try {
          if (await exists(outDir)) {
            await cp(outDir, dir, { recursive: true, force: false, errorOnExist: false });
            await rename(outDir, previous);
          }
          await rename(dir, outDir);
          await rm(previous, { recursive: true, force: true });
        } catch (e) {
          throw ioError('StagedDir.commit', `publish ${JSON.stringify(outDir)}`, e);
        }
      },
      async discard() {
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (DenseHybridError.is(e)) throw e;
    throw ioError('openStagedDir', `create ${JSON.stringify(dir)}`, e);
  }
}
