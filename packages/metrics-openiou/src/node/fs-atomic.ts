/**
 * Atomic file and folder writes on plain `node:fs` (the one implementation every densehybrid
 * package uses): a reader sees the old content or the new one, never half of it.
 */
import { randomBytes } from 'node:crypto';
import { cp, open, mkdir, rename, rm, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DenseHybridError } from '../errors.js';

/** A unique suffix for temporary siblings: `<pid>-<8 hex digits>`. */
function suffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Temporary siblings this process is writing right now (never stray, whatever their pid). */
const liveTemps = new Set<string>();

/** A temporary sibling that belongs to a writer that is gone after this long. */
const STRAY_AGE_MS = 24 * 60 * 60 * 1000;

/** Whether process `pid` exists (EPERM: it exists, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Strays {
  readonly tmp: string[];
  readonly old: string[];
}

/**
 * The temporary siblings in `parent` that killed or crashed writers left behind, by target name:
 * `.NAME.tmp-<pid>-<hex>` (a write that never finished) and `.NAME.old-<pid>-<hex>` (a previous
 * version renamed aside) — exactly this naming. Stray means: the pid is this process but the path
 * is not one of its writes in progress (a pid reused after a restart), or no process of that pid
 * runs, or it is older than a day (a pid reused by another program).
 */
async function strayEntries(parent: string): Promise<Map<string, Strays>> {
  const out = new Map<string, Strays>();
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return out; // no folder yet: nothing stray
  }
  for (const entry of entries) {
    const m = /^\.(.+)\.(tmp|old)-(\d+)-[0-9a-f]{8}$/.exec(entry);
    if (m === null) continue;
    const path = join(parent, entry);
    if (liveTemps.has(path)) continue;
    const pid = Number(m[3]);
    let stray = pid === process.pid || !processAlive(pid);
    if (!stray) {
      const s = await stat(path).catch(() => undefined);
      stray = s !== undefined && Date.now() - s.mtimeMs > STRAY_AGE_MS;
    }
    if (!stray) continue;
    const name = m[1] as string;
    const strays = out.get(name) ?? { tmp: [], old: [] };
    strays[m[2] as 'tmp' | 'old'].push(path);
    out.set(name, strays);
  }
  return out;
}

/** The stray temporary siblings of `target` (see {@link strayEntries}). */
async function straySiblings(target: string): Promise<Strays> {
  return (await strayEntries(dirname(target))).get(basename(target)) ?? { tmp: [], old: [] };
}

/** Removes paths, ignoring failures (best effort: a stray sibling costs only disk space). */
async function removeAll(paths: readonly string[]): Promise<void> {
  for (const p of paths) await rm(p, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * writeFileAtomic scans a folder once per process (a folder can take thousands of writes, e.g.
 * one `.npy` per image): stray temporary files by target name, removed when that target is
 * written. Strays appear only when a process dies, so a folder's first scan finds them all.
 */
const scannedFolders = new Map<string, Map<string, Strays>>();

async function strayFileSiblings(target: string): Promise<string[]> {
  const parent = dirname(target);
  let byName = scannedFolders.get(parent);
  if (byName === undefined) {
    byName = await strayEntries(parent);
    scannedFolders.set(parent, byName);
  }
  const name = basename(target);
  const found = byName.get(name)?.tmp ?? [];
  byName.delete(name);
  return found;
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
 * Writes a file atomically: a temporary sibling `.NAME.tmp-<pid>-<hex>`, fsync, rename over
 * `path`, fsync the folder. Creates missing folders. Temporary siblings of `path` that a killed
 * earlier process left are removed (its folder is scanned once per process). `fn` names the
 * caller in error messages (default `writeFileAtomic`).
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
  liveTemps.add(tmp);
  try {
    await removeAll(await strayFileSiblings(target));
    await makeDirectory(dirname(target));
    await writeFileSynced(tmp, data);
    await rename(tmp, target);
    await fsyncPath(dirname(target), true);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(fn, `write ${JSON.stringify(path)}`, e);
  } finally {
    liveTemps.delete(tmp);
  }
}

/**
 * Writes a directory atomically. `fill(tmpDir)` writes (and fsyncs) the files into a temporary
 * sibling directory `.NAME.tmp-<pid>-<hex>`; then an existing `dir` is renamed aside, the new one
 * renamed in, and the old one removed. A crash leaves either the old or the new directory under
 * `dir`, or (between the two renames) the old one under a `.NAME.old-<pid>-<hex>` sibling that
 * {@link recoverDirectory} finds. Each write removes what killed earlier writes of `dir` left:
 * their `.NAME.tmp-*` folders first, their `.NAME.old-*` folders once the new `dir` is in place
 * (until then one may be the only copy). Siblings of a writer still running — this process's
 * other writes, or a live process's (by pid, for a day) — are kept.
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
  liveTemps.add(tmp);
  try {
    const stray = await straySiblings(target);
    await removeAll(stray.tmp);
    try {
      await makeDirectory(parent);
      await mkdir(tmp);
      await fill(tmp);
      await fsyncPath(tmp, true);
      if (await exists(target)) {
        old = join(parent, `.${name}.old-${suffix()}`);
        liveTemps.add(old);
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
    await removeAll(old === undefined ? stray.old : [old, ...stray.old]);
  } finally {
    liveTemps.delete(tmp);
    if (old !== undefined) liveTemps.delete(old);
  }
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

/**
 * `mkdir -p` that reports the real cause. Node's recursive mkdir turns failures other than
 * EACCES, EPERM, ENOSPC and ENOTDIR into ENOENT (EROFS, a read-only file system, among them):
 * on ENOENT the missing folders are made one level at a time, which throws the real error.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const missing: string[] = [];
    for (let d = resolve(dir); !(await exists(d)) && dirname(d) !== d; d = dirname(d))
      missing.unshift(d);
    for (const d of missing) {
      await mkdir(d).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
  }
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
    await makeDirectory(dir);
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
