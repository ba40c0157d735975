import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { readImage, readLabel } from './image-io.js';
import { readNpzArray } from './npz.js';
import type {
  DatasetSample,
  LabelKind,
  LabelMap,
  ModuleSpec,
  RgbImage,
  SegmentationDataset,
} from './types.js';

/**
 * A label table: raw file value → label the library uses. Raw values that are not keys are
 * refused with an error naming the file (never passed on silently).
 */
export type LabelTable = Readonly<Record<number, number>>;

/** One image file and its label file (absent for unlabelled sets). */
export interface SamplePaths {
  readonly id: string;
  readonly image: string;
  readonly label?: string;
  /**
   * A NumPy `.npz` whose `rgb` array (height × width × 3, signed) is added to the image, clipped
   * to 0..255: how Fishyscapes Static ships its blended objects over Cityscapes frames.
   */
  readonly overlay?: string;
}

/** A dataset read from image + PNG label files, as every adapter of this package returns it. */
export interface FileSegmentationDataset extends SegmentationDataset {
  /** Every sample's files, in sample order (sorted by id). */
  readonly files: readonly SamplePaths[];
  /** The raw → library label table applied on load. */
  readonly labelTable: LabelTable;
}

/** Compiles a {@link LabelTable} to a 256-entry lookup (`-1` = not allowed). */
function compileLabelTable(fn: string, table: LabelTable): Int16Array {
  const lut = new Int16Array(256).fill(-1);
  for (const [k, v] of Object.entries(table)) {
    const raw = Number(k);
    if (
      !Number.isInteger(raw) ||
      raw < 0 ||
      raw > 255 ||
      !Number.isInteger(v) ||
      v < 0 ||
      v > 255
    ) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected labelMap entries raw → label with both in 0..255, got ${k} → ${describeValue(v)}`,
      );
    }
    lut[raw] = v;
  }
  return lut;
}

/**
 * Applies a compiled label table; a raw value outside it throws naming the file.
 *
 * @throws DenseHybridError `INVALID_INPUT` listing the first offending values and the file.
 */
function remapLabel(label: LabelMap, lut: Int16Array, file: string): LabelMap {
  const out = new Uint8Array(label.data.length);
  const src = label.data;
  let bad = -1;
  for (let i = 0; i < src.length; i++) {
    const v = lut[src[i]!]!;
    if (v < 0) {
      bad = i;
      break;
    }
    out[i] = v;
  }
  if (bad >= 0) {
    const seen = new Set<number>();
    for (let i = bad; i < src.length && seen.size < 8; i++)
      if (lut[src[i]!]! < 0) seen.add(src[i]!);
    const allowed = [...lut.keys()].filter((k) => lut[k]! >= 0);
    throw new DenseHybridError(
      'INVALID_INPUT',
      `load: ${file}: expected label values in the adapter's table {${compactRanges(allowed)}}, got ${[...seen].join(', ')} (first at pixel ${bad % label.width},${Math.floor(bad / label.width)})`,
    );
  }
  return { data: out, width: label.width, height: label.height };
}

function compactRanges(values: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    parts.push(i === j ? `${values[i]}` : `${values[i]}..${values[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** Lists files under `dir` (recursively when `recursive`) whose names end with one of `suffixes`, sorted. */
export async function listFiles(
  dir: string,
  suffixes: readonly string[],
  recursive: boolean,
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(p);
      } else if (suffixes.some((s) => e.name.toLowerCase().endsWith(s.toLowerCase()))) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

/** Whether `path` is a folder (following symlinks). */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/** Whether `path` is a file (following symlinks). */
export async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** Throws `DATASET_LAYOUT` unless `dir` is a folder; `layout` describes what was expected. */
export async function requireDir(fn: string, dir: string, layout: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s === undefined || !s.isDirectory()) {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected folder ${dir} (layout: ${layout}), got ${s === undefined ? 'nothing there' : 'a file'}`,
    );
  }
}

/** Pairs images with labels through `labelOf`; missing labels are a `DATASET_LAYOUT` error. */
export async function pairFiles(
  fn: string,
  root: string,
  images: readonly string[],
  labelOf: (image: string) => string,
  layout: string,
  missing: 'error' | 'drop' | 'unlabeled' = 'error',
): Promise<SamplePaths[]> {
  if (images.length === 0) {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected image files (layout: ${layout}) under ${root}, got none`,
    );
  }
  const found = await Promise.all(
    images.map(async (image) => {
      const label = labelOf(image);
      return { image, label, ok: await isFile(label) };
    }),
  );
  const absent = found.filter((f) => !f.ok);
  if (absent.length > 0 && missing === 'error') {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected a label file for every image (layout: ${layout}), got ${absent.length} of ${images.length} missing, e.g. ${absent
        .slice(0, 3)
        .map((f) => f.label)
        .join(', ')}`,
    );
  }
  const out: SamplePaths[] = [];
  for (const f of found) {
    const id = relative(root, f.image).split(sep).join('/');
    if (f.ok) out.push({ id, image: f.image, label: f.label });
    else if (missing === 'unlabeled') out.push({ id, image: f.image });
  }
  if (out.length === 0) {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected at least one image with its label (layout: ${layout}) under ${root}, got none`,
    );
  }
  return out;
}

/** What {@link createFileDataset} needs. */
export interface FileDatasetInit {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly labelKind: LabelKind;
  readonly ignoreLabel: number;
  readonly files: readonly SamplePaths[];
  readonly labelTable: LabelTable;
  readonly meanColor?: readonly [number, number, number];
  readonly spec?: ModuleSpec;
}

/** `image + overlay` clipped to 0..255 (Fishyscapes Static's `*_rgb.npz` over a Cityscapes frame). */
async function addOverlay(image: RgbImage, path: string, imagePath: string): Promise<RgbImage> {
  const { shape, data } = await readNpzArray(path, 'rgb');
  if (
    shape.length !== 3 ||
    shape[0] !== image.height ||
    shape[1] !== image.width ||
    shape[2] !== 3
  ) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `load: ${path}: expected an rgb array of the image's shape (${image.height}, ${image.width}, 3) (${imagePath}), got (${shape.join(', ')})`,
    );
  }
  const out = new Uint8Array(image.data.length);
  // Uint8ClampedArray semantics by hand: round, then clip to 0..255 (the overlay is integer)
  for (let i = 0; i < out.length; i++)
    out[i] = Math.min(255, Math.max(0, Math.round(image.data[i]! + data[i]!)));
  return { data: out, width: image.width, height: image.height };
}

/**
 * Builds a {@link FileSegmentationDataset} from file pairs and a label table. `load(i)` decodes
 * the image (sharp; plus its `.npz` overlay, if any) and the label (PNG indices/grey), checks
 * that their sizes agree and remaps the label; every failure is a `DenseHybridError` naming the
 * file.
 *
 * @example
 * ```ts
 * const ds = createFileDataset({ name: 'mine', numClasses: 2, classNames: ['a', 'b'], labelKind: 'semantic',
 *   ignoreLabel: 255, files: [{ id: 'x', image: 'x.jpg', label: 'x.png' }], labelTable: { 0: 0, 1: 1, 255: 255 } });
 * const s = await ds.load(0);
 * ```
 */
export function createFileDataset(init: FileDatasetInit): FileSegmentationDataset {
  const lut = compileLabelTable(init.name, init.labelTable);
  const files = init.files;
  const check = (fn: string, index: number): SamplePaths => {
    const f = Number.isInteger(index) ? files[index] : undefined;
    if (f === undefined) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${init.name}.${fn}: expected index to be an integer in [0, ${files.length}), got ${describeValue(index)}`,
      );
    }
    return f;
  };
  return {
    name: init.name,
    numClasses: init.numClasses,
    classNames: init.classNames,
    labelKind: init.labelKind,
    ignoreLabel: init.ignoreLabel,
    size: files.length,
    files,
    labelTable: init.labelTable,
    ...(init.meanColor === undefined ? {} : { meanColor: init.meanColor }),
    ...(init.spec === undefined ? {} : { spec: init.spec }),
    sampleId: (index) => check('sampleId', index).id,
    load: async (index): Promise<DatasetSample> => {
      const f = check('load', index);
      const [image, raw] = await Promise.all([
        readImage(f.image).then((im) =>
          f.overlay === undefined ? im : addOverlay(im, f.overlay, f.image),
        ),
        f.label === undefined ? Promise.resolve(undefined) : readLabel(f.label),
      ]);
      if (raw === undefined || f.label === undefined) return { id: f.id, image };
      if (raw.width !== image.width || raw.height !== image.height) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `load: ${f.label}: expected a label of the image's size ${image.width}×${image.height} (${f.image}), got ${raw.width}×${raw.height}`,
        );
      }
      return { id: f.id, image, label: remapLabel(raw, lut, f.label) };
    },
  };
}

/** Options of {@link folderDataset}. */
export interface FolderDatasetOptions {
  /** Folder of images (searched recursively). */
  readonly imagesDir: string;
  /** Folder of PNG labels mirroring `imagesDir`; omit for an unlabelled set. */
  readonly labelsDir?: string;
  /** raw → label table; raw values not listed are errors. @default identity on 0..255 */
  readonly labelMap?: LabelTable;
  /** Image file name endings. @default ['.jpg', '.jpeg', '.png', '.webp'] */
  readonly imageSuffixes?: readonly string[];
  /** Replaces the image suffix to form the label name (`x.jpg` → `x` + labelSuffix). @default '.png' */
  readonly labelSuffix?: string;
  /** @default 'folder' */
  readonly name?: string;
  /** Number of known classes. @default 0 */
  readonly numClasses?: number;
  /** @default [] */
  readonly classNames?: readonly string[];
  /** @default 'semantic' */
  readonly labelKind?: LabelKind;
  /** @default 255 */
  readonly ignoreLabel?: number;
  /** Padding colour for crops. */
  readonly meanColor?: readonly [number, number, number];
}

/** Defaults of {@link folderDataset}. */
export const DEFAULT_FOLDER_DATASET_OPTIONS = {
  imageSuffixes: ['.jpg', '.jpeg', '.png', '.webp'],
  labelSuffix: '.png',
  name: 'folder',
  numClasses: 0,
  classNames: [] as readonly string[],
  labelKind: 'semantic' as LabelKind,
  ignoreLabel: 255,
} as const;

const IDENTITY: LabelTable = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [i, i]));

/**
 * A generic dataset: images in one folder tree, PNG labels at the same relative path in another
 * (suffix replaced by `labelSuffix`), values remapped through a user label map.
 *
 * @param options - see {@link FolderDatasetOptions}.
 * @returns the dataset (reopenable by worker threads).
 * @throws DenseHybridError `DATASET_LAYOUT` when a folder or a label file is missing.
 * @example
 * ```ts
 * const ds = await folderDataset({ imagesDir: 'data/img', labelsDir: 'data/lbl', labelMap: { 0: 0, 1: 1, 2: 255 }, numClasses: 2 });
 * ```
 */
export async function folderDataset(
  options: FolderDatasetOptions,
): Promise<FileSegmentationDataset> {
  const fn = 'folderDataset';
  const o = { ...DEFAULT_FOLDER_DATASET_OPTIONS, ...options };
  if (typeof o.imagesDir !== 'string') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected imagesDir to be a folder path, got ${describeValue(o.imagesDir)}`,
    );
  }
  const layout = `${o.imagesDir}/**/*{${o.imageSuffixes.join(',')}}${o.labelsDir === undefined ? '' : ` + ${o.labelsDir}/**/*${o.labelSuffix}`}`;
  await requireDir(fn, o.imagesDir, layout);
  const images = await listFiles(o.imagesDir, o.imageSuffixes, true);
  let files: SamplePaths[];
  if (o.labelsDir === undefined) {
    if (images.length === 0) {
      throw new DenseHybridError('DATASET_LAYOUT', `${fn}: expected images (${layout}), got none`);
    }
    files = images.map((image) => ({
      id: relative(o.imagesDir, image).split(sep).join('/'),
      image,
    }));
  } else {
    const labelsDir = o.labelsDir;
    await requireDir(fn, labelsDir, layout);
    const suffixes = o.imageSuffixes;
    files = await pairFiles(
      fn,
      o.imagesDir,
      images,
      (image) => {
        const rel = relative(o.imagesDir, image);
        const suffix = suffixes.find((s) => rel.toLowerCase().endsWith(s.toLowerCase())) ?? '';
        return join(labelsDir, rel.slice(0, rel.length - suffix.length) + o.labelSuffix);
      },
      layout,
    );
  }
  return createFileDataset({
    name: o.name,
    numClasses: o.numClasses,
    classNames: o.classNames,
    labelKind: o.labelKind,
    ignoreLabel: o.ignoreLabel,
    files,
    labelTable: o.labelMap ?? IDENTITY,
    ...(o.meanColor === undefined ? {} : { meanColor: o.meanColor }),
    spec: { module: import.meta.url, export: 'folderDataset', args: [options] },
  });
}

/**
 * Reopens a dataset (or any object) from its {@link ModuleSpec}, as the loader's workers do.
 *
 * @throws DenseHybridError `INVALID_INPUT` when the module or export cannot be found.
 * @example
 * ```ts
 * const again = await openFromSpec<SegmentationDataset>(dataset.spec!);
 * ```
 */
export async function openFromSpec<T>(spec: ModuleSpec): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec.module)) as Record<string, unknown>;
  } catch (e) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `openFromSpec: expected an importable module, got ${describeValue(spec.module)}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const factory = mod[spec.export];
  if (typeof factory !== 'function') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `openFromSpec: expected ${spec.module} to export a function ${JSON.stringify(spec.export)}, got ${describeValue(factory)}`,
    );
  }
  return (await (factory as (...a: unknown[]) => unknown)(...spec.args)) as T;
}
