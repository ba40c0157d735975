import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { SegmentationDataset } from '@densehybrid/data-mixing';
import { readLabel } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { readNpy, sha256 } from '@densehybrid/metrics-openiou/node';
import type { ResumeKeyValue } from '@densehybrid/metrics-openiou/node';

/** The name of the closed-set predictions in a score-map folder (`closed/` or `*.closed.npy|png`). */
export const CLOSED_MAPS = 'closed';

/** One fold of the evaluated data and where its frames' images lie (for matching by name). */
export interface ScoreMapFold {
  readonly name: string;
  readonly dataset: SegmentationDataset;
}

/** The maps of one frame: per score name a `.npy` file, and the closed-set prediction if any. */
interface FrameMaps {
  readonly scores: Readonly<Record<string, string>>;
  readonly closed: string | null;
}

/** Score maps matched to the frames of the evaluated folds ({@link matchScoreMaps}). */
export interface ScoreMapSet {
  /** The folder. */
  readonly dir: string;
  /** Whether every frame has a closed-set prediction (none has one otherwise). */
  readonly hasClosed: boolean;
  /** Relative path, size and modification time of every matched file, hashed (the resume key). */
  readonly identity: ResumeKeyValue;
  /** The maps of frame `index` of fold `fold`. */
  frame(fold: number, index: number): FrameMaps;
}

async function walk(dir: string, skip: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!skip.has(p)) await visit(p);
      } else if (e.isFile()) out.push(p);
    }
  };
  await visit(dir);
  return out.sort();
}

const toKey = (p: string): string => p.split(sep).join('/');

/** A path without its extension (`a/b.png` → `a/b`). */
const stemOf = (p: string): string => p.slice(0, p.length - extname(p).length);

/** Where one map name's files are: `<dir>/<name>/**\/<frame>.<ext>`, else `<dir>/**\/<frame>.<name>.<ext>`. */
async function filesOf(
  dir: string,
  name: string,
  exts: readonly string[],
  names: readonly string[],
): Promise<{ file: string; key: string }[]> {
  const folder = join(dir, name);
  const isFolder = (await stat(folder).catch(() => undefined))?.isDirectory() === true;
  if (isFolder) {
    return (await walk(folder, new Set()))
      .filter((f) => exts.includes(extname(f).toLowerCase()))
      .map((f) => {
        const rel = toKey(relative(folder, f));
        const stem = rel.slice(0, -extname(rel).length);
        // `<name>/<frame>.<name>.npy` is the same map (infer's names copied into a folder)
        return { file: f, key: stem.endsWith(`.${name}`) ? stem.slice(0, -name.length - 1) : stem };
      });
  }
  // suffix layout: skip the folders of the other map names
  const skip = new Set(names.map((n) => join(dir, n)));
  const out: { file: string; key: string }[] = [];
  for (const f of await walk(dir, skip)) {
    const rel = toKey(relative(dir, f));
    for (const ext of exts) {
      const suffix = `.${name}${ext}`;
      if (rel.toLowerCase().endsWith(suffix.toLowerCase()))
        out.push({ file: f, key: rel.slice(0, -suffix.length) });
    }
  }
  return out;
}

/**
 * The names a frame can be matched by: its sample id and its image's path below `root` (each
 * without extension), and every trailing part of them (`a/b/c`: `c`, `b/c`, `a/b/c`).
 */
function frameNames(ds: SegmentationDataset, index: number, root: string): Set<string> {
  const full = new Set<string>([stemOf(ds.sampleId(index))]);
  const files = (ds as { readonly files?: readonly { readonly image: string }[] }).files;
  const image = files?.[index]?.image;
  if (image !== undefined) {
    full.add(stemOf(toKey(relative(root, image))));
  }
  const out = new Set<string>();
  for (const f of full) {
    const parts = f.split('/');
    for (let i = 0; i < parts.length; i++) out.add(parts.slice(i).join('/'));
  }
  return out;
}

/**
 * Matches the score maps in `dir` to the frames of `folds` by name. Per score name the maps are
 * `<dir>/<name>/<frame>.npy` (a folder per score) or `<dir>/<frame>.<name>.npy` (a suffix per
 * score, as `densehybrid infer` writes `<frame>.scores.npy`); `<frame>` is the frame's image
 * path below `root` without extension, or any trailing part of it that names one frame (its
 * file name alone when that is unique). Closed-set predictions, optional, are named like a
 * score `closed`, as `.npy` (uint8) or `.png` label maps. With `limit` only the first `limit`
 * frames of each fold need maps.
 *
 * @throws DenseHybridError `DATASET_LAYOUT` naming the file for a map that matches no frame or
 *   several, a frame with no map or two, or closed-set predictions for only some frames
 * @example
 * ```ts
 * const maps = await matchScoreMaps('exported', 'data/sh', folds, ['hybrid']);
 * maps.frame(0, 3).scores.hybrid; // 'exported/hybrid/t5/3.npy'
 * ```
 */
export async function matchScoreMaps(
  dir: string,
  root: string,
  folds: readonly ScoreMapFold[],
  scoreNames: readonly string[],
  limit = Infinity,
): Promise<ScoreMapSet> {
  const fn = 'eval --scores';
  if ((await stat(dir).catch(() => undefined))?.isDirectory() !== true) {
    throw new DenseHybridError('IO', `${fn}: expected a folder of score maps, got ${dir}`);
  }
  const index = new Map<string, number[]>(); // name → global frame numbers
  const frames: { fold: number; index: number; id: string }[] = [];
  folds.forEach((f, fi) => {
    for (let i = 0; i < f.dataset.size; i++) {
      const g = frames.push({ fold: fi, index: i, id: f.dataset.sampleId(i) }) - 1;
      for (const n of frameNames(f.dataset, i, root)) index.set(n, [...(index.get(n) ?? []), g]);
    }
  });
  const names = [...scoreNames, CLOSED_MAPS];
  const byName = new Map<string, (string | undefined)[]>();
  const identity: string[] = [];
  for (const name of names) {
    const closed = name === CLOSED_MAPS;
    const files = await filesOf(dir, name, closed ? ['.npy', '.png'] : ['.npy'], names);
    const assigned: (string | undefined)[] = new Array<string | undefined>(frames.length);
    for (const { file, key } of files) {
      const hit = index.get(key) ?? [];
      if (hit.length !== 1) {
        const what =
          hit.length === 0
            ? `no frame of ${folds.map((f) => f.dataset.name).join(' + ')} is named ${JSON.stringify(key)}`
            : `it matches ${hit.length} frames (${hit.map((g) => frames[g]?.id).join(', ')}); keep the folders that tell them apart`;
        throw new DenseHybridError(
          'DATASET_LAYOUT',
          `${fn}: expected each ${closed ? 'closed-set prediction' : `"${name}" score map`} to match one frame, got ${file}: ${what}`,
        );
      }
      const g = hit[0] as number;
      const before = assigned[g];
      if (before !== undefined) {
        throw new DenseHybridError(
          'DATASET_LAYOUT',
          `${fn}: expected one "${name}" map per frame, got ${before} and ${file} for ${frames[g]?.id}`,
        );
      }
      assigned[g] = file;
      const st = await stat(file);
      identity.push(`${toKey(relative(dir, file))}\0${st.size}\0${st.mtimeMs}\n`);
    }
    // with --limit only the first frames of each fold need maps
    const missing = frames.findIndex((f, g) => f.index < limit && assigned[g] === undefined);
    const any = assigned.some((a) => a !== undefined);
    if (missing >= 0 && (!closed || any)) {
      const f = frames[missing] as (typeof frames)[number];
      const id = stemOf(f.id.split('/').pop() ?? f.id);
      throw new DenseHybridError(
        'DATASET_LAYOUT',
        `${fn}: expected a ${closed ? 'closed-set prediction' : `"${name}" score map`} for every frame, got none for ${f.id} (${folds[f.fold]?.dataset.name}), e.g. ${join(dir, name, `${id}.${closed ? 'png' : 'npy'}`)} or ${join(dir, `${id}.${name}.${closed ? 'png' : 'npy'}`)}`,
      );
    }
    byName.set(name, assigned);
  }
  const starts: number[] = [];
  frames.forEach((f, g) => {
    if (f.index === 0) starts[f.fold] = g;
  });
  const hasClosed = (byName.get(CLOSED_MAPS) ?? []).some((a) => a !== undefined);
  return {
    dir,
    hasClosed,
    identity: sha256(identity.sort().join('')),
    frame(fold, i) {
      const g = (starts[fold] ?? 0) + i;
      return {
        scores: Object.fromEntries(scoreNames.map((n) => [n, byName.get(n)?.[g] as string])),
        closed: hasClosed ? (byName.get(CLOSED_MAPS)?.[g] ?? null) : null,
      };
    },
  };
}

/**
 * Reads one frame's maps and checks their size against the label's.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` naming the file for a map of another size, or of a
 *   dtype other than float16/float32 (scores) or uint8 (closed-set `.npy`)
 * @example
 * ```ts
 * const { scores, closed } = await readFrameMaps(maps.frame(0, 3), 640, 480);
 * ```
 */
export async function readFrameMaps(
  maps: FrameMaps,
  width: number,
  height: number,
): Promise<{ scores: Record<string, Float32Array>; closed: Uint8Array | null }> {
  const fn = 'eval --scores';
  const scores: Record<string, Float32Array> = {};
  for (const [name, file] of Object.entries(maps.scores)) {
    const npy = await readNpy(file);
    if (npy.dtype === '|u1') {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a float16 or float32 score map, got ${file} of dtype uint8`,
      );
    }
    checkShape(fn, file, npy.shape, width, height);
    scores[name] = npy.data;
  }
  let closed: Uint8Array | null = null;
  if (maps.closed !== null) {
    if (extname(maps.closed).toLowerCase() === '.png') {
      const label = await readLabel(maps.closed);
      checkShape(fn, maps.closed, [label.height, label.width], width, height);
      closed = Uint8Array.from(label.data);
    } else {
      const npy = await readNpy(maps.closed);
      if (npy.dtype !== '|u1') {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected a uint8 closed-set prediction, got ${maps.closed} of dtype ${npy.dtype}`,
        );
      }
      checkShape(fn, maps.closed, npy.shape, width, height);
      closed = Uint8Array.from(npy.data);
    }
  }
  return { scores, closed };
}

function checkShape(
  fn: string,
  file: string,
  shape: readonly number[],
  width: number,
  height: number,
): void {
  if (shape.length !== 2 || shape[0] !== height || shape[1] !== width) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected ${file} of shape (${height}, ${width}) (the label's height, width), got (${shape.join(', ')})`,
    );
  }
}
