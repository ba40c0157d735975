import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { ReadScoreMapOptions, SegmentationDataset } from '@densehybrid/data-mixing';
import {
  SCORE_MAP_EXTENSIONS,
  SCORE_MAP_FORMATS,
  SMIYC_SUBMISSION_DATASETS,
  readClosedSetMap,
  readScoreMap,
} from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { sha256 } from '@densehybrid/metrics-openiou/node';
import type { ResumeKeyValue } from '@densehybrid/metrics-openiou/node';

/** The name of the closed-set predictions in a score-map folder (`closed/` or `*.closed.<ext>`). */
export const CLOSED_MAPS = 'closed';

/** Every score-map extension `@densehybrid/data-mixing` reads (`.npy .npz .hdf5 .h5 .png`). */
const MAP_EXTENSIONS = SCORE_MAP_FORMATS.flatMap((f) => SCORE_MAP_EXTENSIONS[f]);
const PNG_EXTENSIONS = SCORE_MAP_EXTENSIONS.png;

/** One fold of the evaluated data and where its frames' images lie (for matching by name). */
export interface ScoreMapFold {
  readonly name: string;
  readonly dataset: SegmentationDataset;
}

/** The maps of one frame: per score name a file, and the closed-set prediction if any. */
interface FrameMaps {
  readonly scores: Readonly<Record<string, string>>;
  readonly closed: string | null;
  /** How the score files are read (PNG scale). */
  readonly read: ReadScoreMapOptions;
}

/** Score maps matched to the frames of the evaluated folds ({@link matchScoreMaps}). */
export interface ScoreMapSet {
  /** The folder. */
  readonly dir: string;
  /** Whether every frame has a closed-set prediction (none has one otherwise). */
  readonly hasClosed: boolean;
  /** Relative path, size and modification time of every matched file (and the PNG scale when PNG
   * maps are read), hashed (the resume key). */
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

/** A file's key: its path below `base` without the extension, with `/` separators. */
const keyOf = (base: string, file: string): string => stemOf(toKey(relative(base, file)));

/**
 * Where one map name's files are: `<dir>/<name>/**\/<frame>.<ext>` (a folder per name), else
 * `<dir>/**\/<frame>.<name>.<ext>` (a suffix per name), else, when `bare` (a single score name,
 * no such folder or suffix), `<dir>/**\/<frame>.<ext>` outside `closed/` and `*.closed.<ext>`.
 */
async function filesOf(
  dir: string,
  name: string,
  exts: readonly string[],
  names: readonly string[],
  bare: boolean,
): Promise<{ file: string; key: string }[]> {
  const folder = join(dir, name);
  const isFolder = (await stat(folder).catch(() => undefined))?.isDirectory() === true;
  const hasExt = (f: string): boolean => exts.includes(extname(f).toLowerCase());
  if (isFolder) {
    return (await walk(folder, new Set())).filter(hasExt).map((f) => {
      const stem = keyOf(folder, f);
      // `<name>/<frame>.<name>.npy` is the same map (infer's names copied into a folder)
      return { file: f, key: stem.endsWith(`.${name}`) ? stem.slice(0, -name.length - 1) : stem };
    });
  }
  // suffix layout: skip the folders of the other map names
  const skip = new Set(names.map((n) => join(dir, n)));
  const all = await walk(dir, skip);
  const out: { file: string; key: string }[] = [];
  for (const f of all) {
    const rel = toKey(relative(dir, f));
    for (const ext of exts) {
      const suffix = `.${name}${ext}`;
      if (rel.toLowerCase().endsWith(suffix.toLowerCase()))
        out.push({ file: f, key: rel.slice(0, -suffix.length) });
    }
  }
  if (out.length > 0 || !bare) return out;
  // bare layout (one score): every map file, e.g. SMIYC's anomaly_p/<method>/<dataset>/<frame>.hdf5
  const closedSuffix = `.${CLOSED_MAPS}`;
  return all
    .filter(hasExt)
    .map((f) => ({ file: f, key: keyOf(dir, f) }))
    .filter(({ key }) => !key.toLowerCase().endsWith(closedSuffix));
}

/**
 * The names a frame can be matched by: its sample id and its image's path below `root` (each
 * without extension), and every trailing part of them (`a/b/c`: `c`, `b/c`, `a/b/c`). A SMIYC
 * frame is also `<submission dataset>/<frame>` (`AnomalyTrack-all/airplane0000`), its path in
 * the benchmark's `anomaly_p/<method>/` folder.
 */
function frameNames(ds: SegmentationDataset, index: number, root: string): Set<string> {
  const full = new Set<string>([stemOf(ds.sampleId(index))]);
  const files = (ds as { readonly files?: readonly { readonly image: string }[] }).files;
  const image = files?.[index]?.image;
  if (image !== undefined) {
    full.add(stemOf(toKey(relative(root, image))));
  }
  const track = /^smiyc\/(anomaly|obstacle)$/.exec(ds.name)?.[1] as
    keyof typeof SMIYC_SUBMISSION_DATASETS | undefined;
  if (track !== undefined) {
    // SMIYC's fid: the image's file name without its extension
    const fid = stemOf(
      toKey(image ?? ds.sampleId(index))
        .split('/')
        .pop() ?? '',
    );
    full.add(`${SMIYC_SUBMISSION_DATASETS[track]}/${fid}`);
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
 * `<dir>/<name>/<frame>.<ext>` (a folder per score) or `<dir>/<frame>.<name>.<ext>` (a suffix
 * per score, as `densehybrid infer` writes `<frame>.scores.npy`); with one score name and neither
 * layout, `<dir>/<frame>.<ext>` (bare, e.g. SMIYC's `anomaly_p/<method>/`). `<ext>` is any
 * format `readScoreMap` reads: `.npy .npz .hdf5 .h5`, and `.png` with `read.pngScale`
 * (without it PNG files are not maps). `<frame>` is the frame's image path below `root`
 * without extension, or any trailing part of it that names one frame (its file name alone when
 * that is unique; a SMIYC frame also `AnomalyTrack-all/<fid>` / `ObstacleTrack-all/<fid>`).
 * Closed-set predictions, optional, are named like a score `closed`, in the same formats (`.png`
 * as 8-bit label maps). With `limit` only the first `limit` frames of each fold need maps.
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
  read: ReadScoreMapOptions = {},
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
  const pngScores = read.pngScale !== undefined && read.pngScale !== null;
  const scoreExts = MAP_EXTENSIONS.filter((e) => pngScores || !PNG_EXTENSIONS.includes(e));
  for (const name of names) {
    const closed = name === CLOSED_MAPS;
    const bare = !closed && scoreNames.length === 1;
    const files = await filesOf(dir, name, closed ? MAP_EXTENSIONS : scoreExts, names, bare);
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
      // PNG files that were not read as score maps (no --png-scale) are likely the maps
      const pngs =
        closed || pngScores
          ? []
          : await filesOf(dir, name, PNG_EXTENSIONS, names, bare).then((p) =>
              p.filter(({ file }) => !/\.(heatmap|overlay|openset)\.png$/i.test(file)),
            );
      const hint =
        pngs.length > 0
          ? `; ${pngs.length} PNG file${pngs.length === 1 ? '' : 's'} (e.g. ${pngs[0]?.file}) are read as 16-bit score maps only with --png-scale <s> (score = value × s)`
          : '';
      throw new DenseHybridError(
        'DATASET_LAYOUT',
        `${fn}: expected a ${closed ? 'closed-set prediction' : `"${name}" score map`} for every frame, got none for ${f.id} (${folds[f.fold]?.dataset.name}), e.g. ${join(dir, name, `${id}.${closed ? 'png' : 'npy'}`)} or ${join(dir, `${id}.${name}.${closed ? 'png' : 'npy'}`)}${hint}`,
      );
    }
    byName.set(name, assigned);
  }
  const starts: number[] = [];
  frames.forEach((f, g) => {
    if (f.index === 0) starts[f.fold] = g;
  });
  const hasClosed = (byName.get(CLOSED_MAPS) ?? []).some((a) => a !== undefined);
  const usesPng = scoreNames.some((n) =>
    (byName.get(n) ?? []).some(
      (f) => f !== undefined && PNG_EXTENSIONS.includes(extname(f).toLowerCase()),
    ),
  );
  return {
    dir,
    hasClosed,
    // PNG scores depend on the scale too: it is part of the maps' identity
    identity: sha256(
      identity.sort().join('') +
        (usesPng ? `png\0${String(read.pngScale)}\0${String(read.pngOffset ?? 0)}\n` : ''),
    ),
    frame(fold, i) {
      const g = (starts[fold] ?? 0) + i;
      return {
        scores: Object.fromEntries(scoreNames.map((n) => [n, byName.get(n)?.[g] as string])),
        closed: hasClosed ? (byName.get(CLOSED_MAPS)?.[g] ?? null) : null,
        read,
      };
    },
  };
}

/**
 * Reads one frame's maps (`readScoreMap` / `readClosedSetMap` of `@densehybrid/data-mixing`:
 * any format, size-1 axes dropped) and checks their size against the label's.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` naming the file for a map of another size;
 *   `INVALID_INPUT` naming the file for an integer score map, a float closed-set prediction, an
 *   8-bit or colour PNG score map or a malformed file
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
    const map = await readScoreMap(file, maps.read);
    checkShape(fn, file, map, width, height);
    scores[name] = map.data;
  }
  let closed: Uint8Array | null = null;
  if (maps.closed !== null) {
    const map = await readClosedSetMap(maps.closed, { key: maps.read.key ?? null });
    checkShape(fn, maps.closed, map, width, height);
    closed = map.data;
  }
  return { scores, closed };
}

function checkShape(
  fn: string,
  file: string,
  map: { readonly shape: readonly number[]; readonly width: number; readonly height: number },
  width: number,
  height: number,
): void {
  if (map.height !== height || map.width !== width) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected ${file} of shape (${height}, ${width}) (the label's height, width), got (${map.shape.join(', ')})`,
    );
  }
}
