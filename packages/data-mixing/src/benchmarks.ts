import { basename, dirname, join, relative, sep } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { MEAN_COLORS } from './augment.js';
import {
  createFileDataset,
  isDirectory,
  isFile,
  listFiles,
  pairFiles,
  requireDir,
  type FileSegmentationDataset,
  type LabelTable,
  type SamplePaths,
} from './datasets.js';

function checkChoice<T extends string>(
  fn: string,
  name: string,
  v: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(v as T)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be one of ${allowed.map((a) => `'${a}'`).join(' | ')}, got ${describeValue(v)}`,
    );
  }
  return v as T;
}

function checkRoot(fn: string, root: unknown): string {
  if (typeof root !== 'string' || root.length === 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected root to be a folder path, got ${describeValue(root)}`,
    );
  }
  return root;
}

/** Replaces the path component `from` (relative to `root`) by `to`. */
function swapComponent(root: string, file: string, from: string, to: string): string {
  const parts = relative(root, file).split(sep);
  const i = parts.indexOf(from);
  if (i >= 0) parts[i] = to;
  return join(root, ...parts);
}

/**
 * Lists `imageSuffix` files under `root/...imageDir` (recursively) and pairs each with the label
 * at the mirrored path: component `from` → `to`, suffix `imageSuffix` → `labelSuffix`.
 */
async function mirroredPairs(
  fn: string,
  root: string,
  imageDir: readonly string[],
  from: string,
  to: string,
  imageSuffix: string,
  labelSuffix: string,
  layout: string,
): Promise<SamplePaths[]> {
  const dir = join(root, ...imageDir);
  const k = imageDir.indexOf(from);
  await requireDir(fn, dir, layout);
  await requireDir(fn, join(root, ...imageDir.map((c, i) => (i === k ? to : c))), layout);
  const images = await listFiles(dir, [imageSuffix], true);
  return pairFiles(
    fn,
    root,
    images,
    (img) => swapComponent(root, img, from, to).slice(0, -imageSuffix.length) + labelSuffix,
    layout,
  );
}

// ---------------------------------------------------------------------------------------------
// StreetHazards

/** StreetHazards class names after remapping (K = 12); label 12 is the anomaly. */
export const STREET_HAZARDS_CLASSES = [
  'unlabeled',
  'building',
  'fence',
  'pedestrian',
  'pole',
  'road-line',
  'road',
  'sidewalk',
  'vegetation',
  'car',
  'wall',
  'traffic-sign',
] as const;

/**
 * StreetHazards raw label (1..14) → library label. 1 unlabeled is trained as class 0, 4 "other"
 * is ignored (255), 14 anomaly becomes K = 12. The authors' code maps "other" to 12 as well
 * (treated as ignore there); this library keeps it apart as 255.
 */
export const STREET_HAZARDS_LABEL_TABLE: LabelTable = {
  1: 0, // unlabeled
  2: 1, // building
  3: 2, // fence
  4: 255, // other → ignore
  5: 3, // pedestrian
  6: 4, // pole
  7: 5, // road-line
  8: 6, // road
  9: 7, // sidewalk
  10: 8, // vegetation
  11: 9, // car
  12: 10, // wall
  13: 11, // traffic-sign
  14: 12, // anomaly → K
};

/** StreetHazards splits: `train`/`validation` (train/images/{training,validation}), `t5`/`t6` test folds. */
export type StreetHazardsSplit = 'train' | 'validation' | 't5' | 't6';

/** Options of {@link streetHazards}. */
export interface StreetHazardsOptions {
  /** Folder holding `train/` and `test/`. */
  readonly root: string;
  readonly split: StreetHazardsSplit;
}

/**
 * StreetHazards (Hendrycks et al.): `train/images/{training,validation}/**.png`,
 * `test/images/test/{t5,t6}/*.png`, labels at the same path with `images` → `annotations`.
 * Labels remapped through {@link STREET_HAZARDS_LABEL_TABLE} (K = 12, anomaly = 12, ignore 255).
 *
 * @param options - root and split.
 * @returns the dataset; `labelKind` is `open-set` for t5/t6, `semantic` otherwise.
 * @throws DenseHybridError `DATASET_LAYOUT` naming the missing folder or label files;
 *   `INVALID_OPTION` for an unknown split.
 * @example
 * ```ts
 * const test = await streetHazards({ root: '/data/streethazards', split: 't5' });
 * const { image, label } = await test.load(0);
 * ```
 */
export async function streetHazards(
  options: StreetHazardsOptions,
): Promise<FileSegmentationDataset> {
  const fn = 'streetHazards';
  const root = checkRoot(fn, options.root);
  const split = checkChoice(fn, 'split', options.split, ['train', 'validation', 't5', 't6']);
  const sub =
    split === 'train'
      ? ['train', 'images', 'training']
      : split === 'validation'
        ? ['train', 'images', 'validation']
        : ['test', 'images', 'test', split];
  const layout = `${sub.join('/')}/**/*.png with labels in ${sub.join('/').replace('images', 'annotations')}`;
  const files = await mirroredPairs(fn, root, sub, 'images', 'annotations', '.png', '.png', layout);
  return createFileDataset({
    name: `streethazards/${split}`,
    numClasses: 12,
    classNames: STREET_HAZARDS_CLASSES,
    labelKind: split === 't5' || split === 't6' ? 'open-set' : 'semantic',
    ignoreLabel: 255,
    files,
    labelTable: STREET_HAZARDS_LABEL_TABLE,
    meanColor: MEAN_COLORS.streetHazards,
    spec: { module: import.meta.url, export: 'streetHazards', args: [{ root, split }] },
  });
}

// ---------------------------------------------------------------------------------------------
// Cityscapes

/** The 19 Cityscapes train classes. */
export const CITYSCAPES_CLASSES = [
  'road',
  'sidewalk',
  'building',
  'wall',
  'fence',
  'pole',
  'traffic light',
  'traffic sign',
  'vegetation',
  'terrain',
  'sky',
  'person',
  'rider',
  'car',
  'truck',
  'bus',
  'train',
  'motorcycle',
  'bicycle',
] as const;

const CITYSCAPES_TRAIN_IDS: Readonly<Record<number, number>> = {
  7: 0,
  8: 1,
  11: 2,
  12: 3,
  13: 4,
  17: 5,
  19: 6,
  20: 7,
  21: 8,
  22: 9,
  23: 10,
  24: 11,
  25: 12,
  26: 13,
  27: 14,
  28: 15,
  31: 16,
  32: 17,
  33: 18,
};

/**
 * Cityscapes labelId (0..33, as in `*_gtFine_labelIds.png`) → trainId (0..18); every void
 * labelId (0–6, 9, 10, 14–16, 18, 29, 30) → 255, and 255 (license plate's −1 in 8 bits) → 255.
 */
export const CITYSCAPES_LABEL_TABLE: LabelTable = Object.fromEntries([
  ...Array.from({ length: 34 }, (_, id) => [id, CITYSCAPES_TRAIN_IDS[id] ?? 255]),
  [255, 255],
]);

/** Options of {@link cityscapes}. */
export interface CityscapesOptions {
  /** Folder holding `leftImg8bit/` and `gtFine/`. */
  readonly root: string;
  readonly split: 'train' | 'val' | 'test';
}

/**
 * Cityscapes: `leftImg8bit/{split}/{city}/*_leftImg8bit.png` with
 * `gtFine/{split}/{city}/*_gtFine_labelIds.png`, labelIds → 19 trainIds, void → 255
 * ({@link CITYSCAPES_LABEL_TABLE}).
 *
 * @param options - root and split.
 * @returns the dataset (`semantic`, K = 19).
 * @throws DenseHybridError `DATASET_LAYOUT` naming what is missing.
 * @example
 * ```ts
 * const val = await cityscapes({ root: '/data/cityscapes', split: 'val' });
 * ```
 */
export async function cityscapes(options: CityscapesOptions): Promise<FileSegmentationDataset> {
  const fn = 'cityscapes';
  const root = checkRoot(fn, options.root);
  const split = checkChoice(fn, 'split', options.split, ['train', 'val', 'test']);
  const layout = `leftImg8bit/${split}/{city}/*_leftImg8bit.png + gtFine/${split}/{city}/*_gtFine_labelIds.png`;
  const files = await mirroredPairs(
    fn,
    root,
    ['leftImg8bit', split],
    'leftImg8bit',
    'gtFine',
    '_leftImg8bit.png',
    '_gtFine_labelIds.png',
    layout,
  );
  return createFileDataset({
    name: `cityscapes/${split}`,
    numClasses: 19,
    classNames: CITYSCAPES_CLASSES,
    labelKind: 'semantic',
    ignoreLabel: 255,
    files,
    labelTable: CITYSCAPES_LABEL_TABLE,
    meanColor: MEAN_COLORS.cityscapes,
    spec: { module: import.meta.url, export: 'cityscapes', args: [{ root, split }] },
  });
}

// ---------------------------------------------------------------------------------------------
// ADE20k negatives

/** ADE20k SceneParsing labels: 0 unlabeled, 1..150 classes, kept as they are. */
export const ADE20K_LABEL_TABLE: LabelTable = Object.fromEntries(
  Array.from({ length: 151 }, (_, i) => [i, i]),
);

/** Options of {@link ade20kNegatives}. */
export interface Ade20kOptions {
  /** The `ADEChallengeData2016` folder, or the folder that contains it. */
  readonly root: string;
  /** @default 'training' */
  readonly split?: 'training' | 'validation';
}

/**
 * ADE20k (ADEChallengeData2016) as a source of negatives: `images/{split}/*.jpg` with
 * `annotations/{split}/*.png`; labels raw (0 = unlabeled, 1..150 classes; `ignoreLabel` = 0).
 *
 * @param options - root (and split).
 * @returns the dataset, ready for {@link pasteNegatives} (label = class map).
 * @throws DenseHybridError `DATASET_LAYOUT` naming what is missing.
 * @example
 * ```ts
 * const negatives = await ade20kNegatives({ root: '/data/ADEChallengeData2016' });
 * ```
 */
export async function ade20kNegatives(options: Ade20kOptions): Promise<FileSegmentationDataset> {
  const fn = 'ade20kNegatives';
  let root = checkRoot(fn, options.root);
  const split = checkChoice(fn, 'split', options.split ?? 'training', ['training', 'validation']);
  const nested = join(root, 'ADEChallengeData2016');
  if (await isDirectory(nested)) root = nested;
  const layout = `ADEChallengeData2016/images/${split}/*.jpg + ADEChallengeData2016/annotations/${split}/*.png`;
  await requireDir(fn, join(root, 'images', split), layout);
  await requireDir(fn, join(root, 'annotations', split), layout);
  const images = await listFiles(join(root, 'images', split), ['.jpg'], false);
  const files = await pairFiles(
    fn,
    root,
    images,
    (img) => join(root, 'annotations', split, basename(img).replace(/\.jpg$/i, '.png')),
    layout,
  );
  return createFileDataset({
    name: `ade20k/${split}`,
    numClasses: 150,
    classNames: [],
    labelKind: 'semantic',
    ignoreLabel: 0,
    files,
    labelTable: ADE20K_LABEL_TABLE,
    meanColor: MEAN_COLORS.ade20k,
    spec: { module: import.meta.url, export: 'ade20kNegatives', args: [{ root, split }] },
  });
}

// ---------------------------------------------------------------------------------------------
// Binary anomaly benchmarks

/** Binary benchmark labels: 0 inlier, 1 anomaly, 2 and 255 ignore (→ 255). */
export const BINARY_ANOMALY_LABEL_TABLE: LabelTable = { 0: 0, 1: 1, 2: 255, 255: 255 };

/** A dataset with binary labels {0 inlier, 1 anomaly, 255 ignore}, reopenable through `factory(args)`. */
function binaryAnomalyDataset(
  name: string,
  files: readonly SamplePaths[],
  factory: string,
  args: object,
): FileSegmentationDataset {
  return createFileDataset({
    name,
    numClasses: 0,
    classNames: [],
    labelKind: 'anomaly',
    ignoreLabel: 255,
    files,
    labelTable: BINARY_ANOMALY_LABEL_TABLE,
    meanColor: MEAN_COLORS.cityscapes,
    spec: { module: import.meta.url, export: factory, args: [args] },
  });
}

/** Options of {@link fishyscapes}. */
export interface FishyscapesOptions {
  readonly root: string;
  readonly variant: 'lostandfound' | 'static';
}

/** A label file of a Fishyscapes archive: `<fishyscapes id>_<base dataset id>_labels.png`. */
const FISHYSCAPES_LABEL = /^(\d+)_(.+)_labels\.png$/;

/** What {@link fishyscapes} reads, per variant: the archive layout, or the authors' one. */
const FISHYSCAPES_LAYOUTS = {
  lostandfound:
    '<id>_<baseid>_labels.png (fishyscapes_lostandfound.zip) + leftImg8bit/{train,test}/<city>/<baseid>_leftImg8bit.png (Lost & Found), or leftImg8bit/**/*_leftImg8bit.png + ood/**/*_ood_segmentation.png',
  static:
    '<id>_<baseid>_labels.png + <id>_<baseid>_rgb.npz (fs_val_v3.zip) + leftImg8bit/val/<city>/<baseid>_leftImg8bit.png (Cityscapes), or **/*_rgb.jpg with *_labels.png beside each',
} as const;

/**
 * The layout of the archives Fishyscapes' official loader (bdlb) downloads: `<id>_<baseid>_labels.png`
 * files (anywhere under `root`, usually flat), for Static each with its `<id>_<baseid>_rgb.npz`
 * beside it, and the base dataset's frames `leftImg8bit/**\/<baseid>_leftImg8bit.png` under
 * `root` (Lost & Found's for L&F, Cityscapes' for Static; a symlink is fine).
 */
async function fishyscapesArchiveFiles(
  fn: string,
  root: string,
  variant: 'lostandfound' | 'static',
): Promise<SamplePaths[]> {
  const layout = FISHYSCAPES_LAYOUTS[variant];
  const imagesDir = join(root, 'leftImg8bit');
  const labels = (await listFiles(root, ['_labels.png'], true)).filter(
    (f) => FISHYSCAPES_LABEL.test(basename(f)) && !f.startsWith(imagesDir + sep),
  );
  if (labels.length === 0) {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected label files (layout: ${layout}) under ${root}, got none`,
    );
  }
  await requireDir(fn, imagesDir, layout);
  const images = new Map<string, string>();
  for (const f of await listFiles(imagesDir, ['_leftImg8bit.png'], true)) {
    const id = basename(f).slice(0, -'_leftImg8bit.png'.length);
    if (!images.has(id)) images.set(id, f);
  }
  const files: SamplePaths[] = [];
  const missing: string[] = [];
  for (const label of labels) {
    const baseId = FISHYSCAPES_LABEL.exec(basename(label))?.[2] ?? '';
    const image = images.get(baseId);
    const stem = label.slice(0, -'_labels.png'.length);
    const overlay = variant === 'static' ? `${stem}_rgb.npz` : undefined;
    if (image === undefined) missing.push(join(imagesDir, '**', `${baseId}_leftImg8bit.png`));
    else if (overlay !== undefined && !(await isFile(overlay))) missing.push(overlay);
    else {
      const id = relative(root, stem).split(sep).join('/');
      files.push({ id, image, label, ...(overlay === undefined ? {} : { overlay }) });
    }
  }
  if (missing.length > 0) {
    throw new DenseHybridError(
      'DATASET_LAYOUT',
      `${fn}: expected the image of every label file (layout: ${layout}), got ${missing.length} of ${labels.length} missing, e.g. ${missing.slice(0, 3).join(', ')}`,
    );
  }
  return files;
}

/**
 * Fishyscapes validation sets, in the layout of the archives its official loader (bdlb) downloads
 * or in the layouts the DenseHybrid authors' loaders read:
 * - `lostandfound`: the flat `<id>_<baseid>_labels.png` of `fishyscapes_lostandfound.zip` with
 *   Lost & Found's `leftImg8bit/{train,test}/<city>/<baseid>_leftImg8bit.png` under `root`; or
 *   `leftImg8bit/**\/*_leftImg8bit.png` with `ood/**\/*_ood_segmentation.png` at the mirrored path
 *   (when `root/ood` exists);
 * - `static`: the flat `<id>_<baseid>_labels.png` and `<id>_<baseid>_rgb.npz` of `fs_val_v3.zip`
 *   with Cityscapes' `leftImg8bit/val/<city>/<baseid>_leftImg8bit.png` under `root` (the image is
 *   the Cityscapes frame plus the npz's `rgb` array, clipped to 0..255, as bdlb builds it); or
 *   `**\/*_rgb.jpg` with `*_labels.png` beside each (when there are such JPEGs).
 *
 * Labels {0 inlier, 1 anomaly, 2 or 255 ignore} ({@link BINARY_ANOMALY_LABEL_TABLE}).
 *
 * @throws DenseHybridError `DATASET_LAYOUT` naming what is missing.
 * @example
 * ```ts
 * const laf = await fishyscapes({ root: '/data/fs_lost_found', variant: 'lostandfound' });
 * ```
 */
export async function fishyscapes(options: FishyscapesOptions): Promise<FileSegmentationDataset> {
  const fn = 'fishyscapes';
  const root = checkRoot(fn, options.root);
  const variant = checkChoice(fn, 'variant', options.variant, ['lostandfound', 'static']);
  const layout = FISHYSCAPES_LAYOUTS[variant];
  await requireDir(fn, root, layout);
  const jpegs = variant === 'static' ? await listFiles(root, ['_rgb.jpg'], true) : [];
  let files: SamplePaths[];
  if (variant === 'lostandfound' && (await isDirectory(join(root, 'ood')))) {
    files = await mirroredPairs(
      fn,
      root,
      ['leftImg8bit'],
      'leftImg8bit',
      'ood',
      '_leftImg8bit.png',
      '_ood_segmentation.png',
      layout,
    );
  } else if (jpegs.length > 0) {
    files = await pairFiles(
      fn,
      root,
      jpegs,
      (img) => join(dirname(img), basename(img).replace(/_rgb\.jpg$/, '_labels.png')),
      layout,
    );
  } else {
    files = await fishyscapesArchiveFiles(fn, root, variant);
  }
  return binaryAnomalyDataset(`fishyscapes/${variant}`, files, 'fishyscapes', { root, variant });
}

/** Options of {@link smiyc}. */
export interface SmiycOptions {
  /** Folder holding `dataset_AnomalyTrack/` and/or `dataset_ObstacleTrack/`, or the track's folder itself. */
  readonly root: string;
  readonly track: 'anomaly' | 'obstacle';
  /** Keep images without a label (the hidden test frames) with `label` absent. @default false */
  readonly includeUnlabeled?: boolean;
}

/**
 * SegmentMeIfYouCan: `dataset_AnomalyTrack/images/*.jpg` or `dataset_ObstacleTrack/images/*.webp`
 * (any of jpg/jpeg/png/webp accepted), labels `labels_masks/<name>_labels_semantic.png`
 * (validation frames only). `root` is the folder holding the track's folder, or that folder itself
 * (sample ids are the same either way: `dataset_AnomalyTrack/images/<name>`). Labels {0 inlier / free road, 1 anomaly / obstacle, 255 void; 2 also
 * → 255} ({@link BINARY_ANOMALY_LABEL_TABLE}).
 *
 * @throws DenseHybridError `DATASET_LAYOUT` naming what is missing.
 * @example
 * ```ts
 * const ra = await smiyc({ root: '/data/smiyc', track: 'anomaly' });
 * ```
 */
export async function smiyc(options: SmiycOptions): Promise<FileSegmentationDataset> {
  const fn = 'smiyc';
  const root = checkRoot(fn, options.root);
  const track = checkChoice(fn, 'track', options.track, ['anomaly', 'obstacle']);
  const [folder, other] =
    track === 'anomaly'
      ? ['dataset_AnomalyTrack', 'dataset_ObstacleTrack']
      : ['dataset_ObstacleTrack', 'dataset_AnomalyTrack'];
  // root = the folder above the track's folder, or (as in ade20kNegatives) the track's folder
  const nested = join(root, folder);
  const atTrack =
    !(await isDirectory(nested)) &&
    basename(root) !== other &&
    (await isDirectory(join(root, 'images')));
  const dir = atTrack ? root : nested;
  const layout = `${folder}/images/*.{jpg,webp} + ${folder}/labels_masks/*_labels_semantic.png, under root or with root = ${folder}`;
  await requireDir(fn, join(dir, 'images'), layout);
  const includeUnlabeled = options.includeUnlabeled === true;
  if (!includeUnlabeled) await requireDir(fn, join(dir, 'labels_masks'), layout);
  const images = await listFiles(join(dir, 'images'), ['.jpg', '.jpeg', '.png', '.webp'], false);
  const files = await pairFiles(
    fn,
    dirname(dir),
    images,
    (img) =>
      join(dir, 'labels_masks', basename(img).replace(/\.[^.]+$/, '') + '_labels_semantic.png'),
    layout,
    includeUnlabeled ? 'unlabeled' : 'drop',
  );
  return binaryAnomalyDataset(`smiyc/${track}`, files, 'smiyc', { root, track, includeUnlabeled });
}
