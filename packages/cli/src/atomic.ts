import { randomBytes } from 'node:crypto';
import { cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function ioError(fn: string, what: string, path: string, e: unknown): DenseHybridError {
  const code = (e as NodeJS.ErrnoException).code;
  return new DenseHybridError(
    'IO',
    `${fn}: expected to ${what} ${path}, got ${code ?? (e instanceof Error ? e.message : String(e))}`,
    { cause: e },
  );
}

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is then
 * renamed over `path`, so readers see the old file or the new one, never half of it.
 *
 * @throws DenseHybridError `IO` naming the path when the folder or file cannot be written
 * @example
 * ```ts
 * await writeFileAtomic('run/metrics.json', JSON.stringify(metrics));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError('writeFileAtomic', 'write', path, e);
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
 * `<out>.partial` behind, which the next run resumes from.
 *
 * @throws DenseHybridError `IO` when the folder cannot be created
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
          throw ioError('StagedDir.commit', 'publish', outDir, e);
        }
      },
      async discard() {
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (DenseHybridError.is(e)) throw e;
    throw ioError('openStagedDir', 'create', dir, e);
  }
}
