import { mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import {
  SMIYC_SUBMISSION_DATASETS,
  readImage,
  smiycScoreMapPath,
  writePng,
  writeSmiycScoreMap,
} from '@densehybrid/data-mixing';
import { DenseHybridError, THRESHOLD_RULES, openSetPrediction } from '@densehybrid/metrics-openiou';
import type { ThresholdRule } from '@densehybrid/metrics-openiou';
import {
  openStagedDir,
  resumeKeyDifferences,
  sha256,
  writeFileAtomic,
  writeNpy,
} from '@densehybrid/metrics-openiou/node';
import type { ResumeKey } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { yieldToEventLoop } from '../io.js';
import { COLORMAP_NAMES, anomalyHeatmap, colorbar, overlay } from '../render/colormap.js';
import { colorizeLabels, legend, openSetLegendEntries } from '../render/labels.js';
import { sideBySide, stack } from '../render/panels.js';
import { checkResumeKey, readRecord } from '../resume.js';
import { BACKEND_FLAG, THREADS_FLAG, SCORE_FLAG, CHECKPOINT_FLAG } from './common.js';
import { RUNTIME_FLAG, openDetector } from '../runtime.js';

const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.webp'];

/** One input image and its output name (relative to --out, without the output suffix). */
interface InferInput {
  readonly path: string;
  readonly stem: string;
}

/**
 * The images of the arguments, in order: files as given, folders searched recursively (sorted).
 * A file's output name is its name without the extension; an image found in a folder keeps its
 * path below that folder (`photos/` → `2024/a.jpg` → `2024/a`).
 * @throws CliUsageError naming both inputs when two images would get the same output name
 */
async function collectInputs(cwd: string, paths: readonly string[]): Promise<InferInput[]> {
  const out: InferInput[] = [];
  for (const given of paths) {
    const p = resolve(cwd, given);
    const st = await stat(p).catch(() => undefined);
    if (!st)
      throw new DenseHybridError(
        'IO',
        `infer: expected an image file or folder, got ${given} (not found)`,
      );
    if (st.isDirectory()) {
      const walk = async (dir: string): Promise<void> => {
        const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
          a.name.localeCompare(b.name),
        );
        for (const e of entries) {
          const full = join(dir, e.name);
          if (e.isDirectory()) await walk(full);
          else if (IMAGE_SUFFIXES.includes(extname(e.name).toLowerCase())) {
            const rel = relative(p, full).split(sep).join('/');
            out.push({ path: full, stem: rel.slice(0, rel.length - extname(rel).length) });
          }
        }
      };
      await walk(p);
    } else {
      out.push({ path: p, stem: basename(p, extname(p)) });
    }
  }
  if (out.length === 0)
    throw new DenseHybridError(
      'IO',
      `infer: expected at least one image (${IMAGE_SUFFIXES.join(', ')}), got none in ${paths.join(', ')}`,
    );
  // one output name per image: an image given twice counts once, two images with one name fail
  const byStem = new Map<string, InferInput>();
  const unique: InferInput[] = [];
  for (const input of out) {
    const other = byStem.get(input.stem);
    if (other?.path === input.path) continue;
    if (other) {
      throw new CliUsageError(
        `<image|dir>: expected each image to get its own output name, got ${other.path} and ${input.path}, both written as ${input.stem}.* in --out; rename one, or infer them into separate --out folders`,
      );
    }
    byStem.set(input.stem, input);
    unique.push(input);
  }
  return unique;
}

/** The output formats of `infer --format`. */
const INFER_FORMATS = ['standard', 'smiyc'] as const;
type InferFormat = (typeof INFER_FORMATS)[number];

/** The files infer writes per image (`<name>.<suffix>`), per --format. */
const INFER_OUTPUTS: Readonly<Record<InferFormat, readonly string[]>> = {
  standard: ['heatmap.png', 'overlay.png', 'openset.png', 'scores.npy'],
  smiyc: ['hdf5'],
};

/**
 * The float32 files `infer --raw` adds per image (`<name>.<suffix>`), for the score `score`:
 * logits `[H, W, K]`, the posterior (OOD) logit g `[H, W]` and the score map `[H, W]`.
 */
function rawOutputs(score: string): readonly string[] {
  return ['logits.npy', 'posterior-logit.npy', `${score}.npy`];
}

/** The method name SMIYC's folders get by default (`anomaly_p/<method>/…`). */
const DEFAULT_SMIYC_METHOD = 'DenseHybrid';

/**
 * SMIYC's submission folder for the inputs, relative to --out (the benchmark's DIR_OUTPUTS):
 * `anomaly_p/<method>/<dataset>`; the dataset is --smiyc-dataset, else the track whose folder
 * (`dataset_AnomalyTrack`, `dataset_ObstacleTrack`) holds every input. Each input's name is its
 * file name without extension (SMIYC's fid).
 * @throws CliUsageError when the track is not given and the inputs do not tell it, or when two
 *   inputs have one file name
 */
function smiycLayout(
  inputs: readonly InferInput[],
  method: string,
  dataset: string | undefined,
): { dir: string; inputs: InferInput[] } {
  const tracks = { dataset_AnomalyTrack: 'anomaly', dataset_ObstacleTrack: 'obstacle' } as const;
  const found = new Set(
    inputs.map((i) => {
      const parts = i.path.split(sep);
      const folder = parts.find((p): p is keyof typeof tracks => p in tracks);
      return folder === undefined ? undefined : SMIYC_SUBMISSION_DATASETS[tracks[folder]];
    }),
  );
  const detected = found.size === 1 ? [...found][0] : undefined;
  const name = dataset ?? detected;
  if (name === undefined) {
    throw new CliUsageError(
      `--smiyc-dataset: expected the SMIYC dataset folder (${Object.values(SMIYC_SUBMISSION_DATASETS).join(' | ')}, or another of the benchmark's dset names), got none, and the inputs ${found.size > 1 ? 'lie in several tracks' : 'lie in no dataset_AnomalyTrack/ or dataset_ObstacleTrack/ folder'}`,
    );
  }
  let dir: string;
  try {
    dir = dirname(smiycScoreMapPath(method, name, 'frame'));
  } catch (e) {
    throw new CliUsageError(
      `--method / --smiyc-dataset: ${(e as Error).message.replace(/^smiycScoreMapPath: /, '')}`,
    );
  }
  const byFid = new Map<string, InferInput>();
  const out: InferInput[] = [];
  for (const input of inputs) {
    const fid = basename(input.path, extname(input.path));
    const other = byFid.get(fid);
    if (other) {
      throw new CliUsageError(
        `<image|dir>: expected one image per SMIYC frame name (the file name without extension), got ${other.path} and ${input.path}, both ${fid}.hdf5`,
      );
    }
    byFid.set(fid, input);
    out.push({ path: input.path, stem: fid });
  }
  return { dir: dir.split('/').join(sep), inputs: out };
}

/** The record in --out: settings (the resume key) and each image's source. */
const RECORD = 'infer.json';
const RECORD_FORMAT = 'densehybrid/infer';
const RECORD_VERSION = 1;
/** In `<out>.partial` only: one JSON line per finished image, appended and synced. */
const PROGRESS = '.infer-progress.jsonl';

/** A finished image: its source file and the SHA-256 of its bytes. */
interface InferImage {
  readonly input: string;
  readonly sha256: string;
}

interface InferRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly version: typeof RECORD_VERSION;
  readonly key: ResumeKey;
  readonly images: Readonly<Record<string, InferImage>>;
}

/** A stored record as a flat resume key (`null` for an unreadable one). */
function recordKey(record: unknown): unknown {
  if (record === null || typeof record !== 'object') return null;
  const r = record as Partial<InferRecord>;
  const key = r.key !== null && typeof r.key === 'object' ? r.key : {};
  return { format: r.format ?? null, version: r.version ?? null, ...key };
}

function recordImages(record: unknown): Readonly<Record<string, InferImage>> {
  const images = (record as Partial<InferRecord> | null)?.images;
  return images !== null && typeof images === 'object' ? images : {};
}

/** Images an interrupted run finished, from its progress lines (a torn last line is skipped). */
async function finishedImages(path: string): Promise<Map<string, InferImage>> {
  const done = new Map<string, InferImage>();
  const text = await readFile(path, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    try {
      const e = JSON.parse(line) as { stem: string } & InferImage;
      if (typeof e.stem === 'string') done.set(e.stem, { input: e.input, sha256: e.sha256 });
    } catch {
      // an empty or torn line (killed while appending): that image is not finished
    }
  }
  return done;
}

/** Removes output files in `dir` whose image is not in `done` (half-written by a killed run). */
async function removeUnfinished(
  dir: string,
  done: ReadonlyMap<string, InferImage>,
  outputs: readonly string[],
): Promise<void> {
  const walk = async (sub: string): Promise<void> => {
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      const suffix = outputs.find((o) => rel.endsWith(`.${o}`));
      if (e.isFile() && suffix !== undefined && !done.has(rel.slice(0, -suffix.length - 1)))
        await rm(join(dir, rel), { force: true });
    }
  };
  await walk('');
}

/** `densehybrid infer`: anomaly maps for your own images. */
export const inferCommand = defineCommand({
  name: 'infer',
  summary:
    'score images: heatmap, overlay, open-set label map, float16 .npy, or SMIYC submission files',
  description: `For each image (files, or folders searched recursively) writes into --out:
  <name>.heatmap.png   anomaly score in a perceptual colormap
  <name>.overlay.png   the heatmap blended over the input, with a scale bar of the scores
  <name>.openset.png   open-set labels (K classes + unknown in white) with a legend
  <name>.scores.npy    the raw score map, float16 (NumPy '<f2', SMIYC's submission format)
with --raw also, float32 (NumPy '<f4', the model's outputs at the input size, unrounded):
  <name>.logits.npy           class logits [H, W, K] (after the upsampling to the input size)
  <name>.posterior-logit.npy  the dataset-posterior (OOD) logit g [H, W], sigmoid(g) = P(out|x)
  <name>.<score>.npy          the --score map [H, W] (e.g. <name>.hybrid.npy)
<name> is the file name without its extension; an image found in a folder keeps its path below
that folder (photos/2024/a.jpg, given photos/, writes <out>/2024/a.*). Two images with the same
<name> are refused (exit 2). infer.json records the checkpoint's digest, the settings and each
image's source file and SHA-256.
The open-set map uses --threshold, else the checkpoint's calibrated threshold.
Outputs are staged in <out>.partial and published together; Ctrl-C (or a crash) keeps finished
images and the same command resumes. A partial run or an --out made with another checkpoint,
--score, --threshold, --colormap, --normalize range, --alpha or --raw is refused (exit 2) naming
what differs; --fresh starts over (and replaces the earlier outputs in --out).
--format smiyc writes SMIYC's submission files instead, as the benchmark's evaluation reads
them with --out as its DIR_OUTPUTS: <out>/anomaly_p/<method>/<dataset>/<frame>.hdf5 (dataset
"value", float16, gzip 9), <frame> = the image's file name without extension, <dataset> =
AnomalyTrack-all or ObstacleTrack-all (from the images' dataset_*Track folder, or
--smiyc-dataset); infer.json and the staging lie in that folder.

example:
  densehybrid infer --checkpoint runs/sh photos/ street.jpg --out maps
  densehybrid infer --checkpoint runs/smiyc --format smiyc --out outputs \\
    /data/smiyc/dataset_AnomalyTrack/images`,
  flags: {
    checkpoint: CHECKPOINT_FLAG,
    out: {
      type: 'path',
      required: true,
      short: 'o',
      placeholder: 'dir',
      description: 'output folder',
    },
    score: SCORE_FLAG,
    threshold: {
      type: 'number',
      description: "open-set threshold (default: the checkpoint's calibrated one)",
    },
    thresholdRule: {
      type: 'string',
      choices: THRESHOLD_RULES,
      description:
        "greater: unknown where score > threshold, greater-or-equal: >= (default: the calibrated threshold's rule; with --threshold: greater, as the benchmarks' official code)",
    },
    colormap: {
      type: 'string',
      choices: COLORMAP_NAMES,
      default: 'inferno',
      description: 'heatmap colormap',
    },
    normalize: {
      type: 'string',
      choices: ['minmax', 'fixed'],
      default: 'minmax',
      description: 'heatmap range: per image min..max, or --min..--max',
    },
    min: {
      type: 'number',
      default: 0,
      description: 'score at the coldest colour with --normalize fixed',
    },
    max: {
      type: 'number',
      default: 1,
      description: 'score at the hottest colour with --normalize fixed',
    },
    alpha: {
      type: 'number',
      default: 0.5,
      min: 0,
      max: 1,
      description: 'heatmap opacity of the overlay',
    },
    fresh: {
      type: 'boolean',
      description:
        'ignore images finished by an interrupted run, and replace outputs in --out made with other settings',
    },
    raw: {
      type: 'boolean',
      description:
        'also write float32 <name>.logits.npy [H, W, K], <name>.posterior-logit.npy [H, W] and <name>.<score>.npy [H, W] (standard format, --runtime tfjs)',
    },
    format: {
      type: 'string',
      choices: INFER_FORMATS,
      default: 'standard',
      description:
        'standard: heatmap, overlay, open-set PNGs and <name>.scores.npy; smiyc: SMIYC submission files <out>/anomaly_p/<method>/<dataset>/<frame>.hdf5 (float16)',
    },
    method: {
      type: 'string',
      default: DEFAULT_SMIYC_METHOD,
      placeholder: 'name',
      description: "--format smiyc: the method's name (its folder under anomaly_p/)",
    },
    smiycDataset: {
      type: 'string',
      placeholder: 'name',
      description: `--format smiyc: the dataset folder (${Object.values(SMIYC_SUBMISSION_DATASETS).join(', ')}; default: from the images' dataset_AnomalyTrack/ or dataset_ObstacleTrack/ folder)`,
    },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
    runtime: RUNTIME_FLAG,
  },
  positionals: [
    {
      name: 'image|dir',
      description: 'images or folders of images',
      variadic: true,
      required: true,
    },
  ],
  async run(flags, ctx) {
    const smiyc = flags.format === 'smiyc';
    const raw = flags.raw === true;
    if (raw && smiyc)
      throw new CliUsageError(
        '--raw: expected --format standard (the float32 .npy files sit beside its outputs), got --format smiyc',
      );
    if (raw && flags.runtime !== 'tfjs')
      throw new CliUsageError(
        `--raw: expected --runtime tfjs (the logits and posterior logit come from the TensorFlow.js model), got --runtime ${flags.runtime}`,
      );
    const collected = await collectInputs(ctx.io.cwd, ctx.positionals);
    // --format smiyc: the submission folder under --out, one <fid>.hdf5 per image
    const layout = smiyc ? smiycLayout(collected, flags.method, flags.smiycDataset) : null;
    const inputs = layout?.inputs ?? collected;
    const outDir = layout ? join(flags.out, layout.dir) : flags.out;
    const outputs = [...INFER_OUTPUTS[flags.format], ...(raw ? rawOutputs(flags.score) : [])];
    const opened = await openDetector(ctx, { ...flags, scores: [flags.score] });
    const detector = opened.detector;
    try {
      const stored = detector.meta.threshold;
      const useStored = flags.threshold === undefined && stored?.score === flags.score;
      const threshold = flags.threshold ?? (useStored ? stored?.value : undefined);
      const thresholdRule: ThresholdRule =
        flags.thresholdRule ??
        (useStored ? (stored?.thresholdRule ?? 'greater-or-equal') : 'greater');
      if (threshold === undefined && !smiyc) {
        ctx.log(
          'note: no open-set threshold (pass --threshold or run `densehybrid calibrate`); openset.png shows the closed-set prediction',
        );
      }
      // everything that determines the files of an image, besides the image itself
      const key: ResumeKey = smiyc
        ? {
            checkpoint: await opened.digest(),
            ...opened.key,
            score: flags.score,
            outputFormat: flags.format,
            smiycFolder: layout?.dir.split(sep).join('/') ?? null,
          }
        : {
            checkpoint: await opened.digest(),
            ...opened.key,
            score: flags.score,
            threshold: threshold ?? null,
            thresholdRule: threshold === undefined ? null : thresholdRule,
            colormap: flags.colormap,
            normalize: flags.normalize,
            range: flags.normalize === 'fixed' ? [flags.min, flags.max] : null,
            alpha: flags.alpha,
            // only when set: records of runs before --raw stay valid
            ...(raw ? { raw: true } : {}),
          };
      const current = { format: RECORD_FORMAT, version: RECORD_VERSION, ...key };
      // publishing merges into an existing --out: its outputs must have the same settings
      const published = await readRecord(join(outDir, RECORD));
      let kept: Readonly<Record<string, InferImage>> = {};
      let replaced: readonly string[] = [];
      if (published !== undefined) {
        if (resumeKeyDifferences(recordKey(published), current).length === 0)
          kept = recordImages(published);
        else if (flags.fresh) replaced = Object.keys(recordImages(published));
        else
          checkResumeKey(
            `--out ${outDir} holds the outputs`,
            recordKey(published),
            current,
            'rerun with --fresh to replace them',
          );
      }
      let staged = await openStagedDir(outDir, { resume: !flags.fresh });
      const progressPath = join(staged.dir, PROGRESS);
      let done = new Map<string, InferImage>();
      if (staged.resumed) {
        const partial = await readRecord(join(staged.dir, RECORD));
        if (partial === undefined) {
          // no record of what the files were made with: trust none of them
          await staged.discard();
          staged = await openStagedDir(outDir, { resume: false });
        } else {
          checkResumeKey(
            `--out ${outDir} holds the unfinished outputs`,
            recordKey(partial),
            current,
            'rerun with --fresh to start over',
          );
          done = await finishedImages(progressPath);
          await removeUnfinished(staged.dir, done, outputs);
        }
      }
      // the settings first: a kill from here on leaves a partial run that names them
      const record = (images: Readonly<Record<string, InferImage>>): string =>
        `${JSON.stringify(
          {
            format: RECORD_FORMAT,
            version: RECORD_VERSION,
            key,
            images,
          } satisfies InferRecord,
          null,
          2,
        )}\n`;
      await writeFileAtomic('infer', join(staged.dir, RECORD), record({}));
      const progress = ctx.progress({ label: 'infer', total: inputs.length });
      const K = detector.numClasses;
      // the open-set legend, made for the first standard-format image
      let legendImage: Awaited<ReturnType<typeof legend>> | undefined;
      let skipped = 0;
      let written = 0;
      const log = await open(progressPath, 'a');
      try {
        for (const input of inputs) {
          await yieldToEventLoop();
          if (ctx.signal.aborted) {
            throw new DenseHybridError(
              'INTERRUPTED',
              `infer: stopped after ${written + skipped}/${inputs.length} images; finished ones are kept in ${staged.dir}, run the same command again to resume`,
            );
          }
          const source: InferImage = {
            input: input.path,
            sha256: sha256(await readFile(input.path)),
          };
          const before = done.get(input.stem);
          if (before?.input === source.input && before.sha256 === source.sha256) {
            skipped++;
            progress.tick();
            continue;
          }
          const image = await readImage(input.path);
          const rawFrame = raw && opened.raw ? await opened.raw(image, flags.score) : undefined;
          const frame = rawFrame ?? (await detector.score(image, flags.score));
          if (smiyc) {
            // float16 "value", gzip 9, as SMIYC's Evaluation.save_output writes it
            const h5Path = join(staged.dir, `${input.stem}.hdf5`);
            await writeSmiycScoreMap(h5Path, frame.scores, frame.width, frame.height);
          } else {
            const [heatPath, overlayPath, opensetPath, npyPath] = outputs.map((o) =>
              join(staged.dir, `${input.stem}.${o}`),
            ) as [string, string, string, string];
            const heat = anomalyHeatmap(frame.scores, frame.width, frame.height, {
              colormap: flags.colormap,
              normalize: flags.normalize,
              min: flags.min,
              max: flags.max,
            });
            const labels =
              threshold === undefined
                ? frame.closed
                : openSetPrediction(frame.closed, frame.scores, threshold, K, { thresholdRule });
            const labelImage = colorizeLabels(labels, frame.width, frame.height, K);
            await mkdir(dirname(heatPath), { recursive: true });
            await writePng(heatPath, heat.image);
            const scale = await colorbar(flags.colormap, {
              min: heat.min,
              max: heat.max,
              width: frame.width,
            });
            await writePng(overlayPath, stack([overlay(image, heat.image, flags.alpha), scale]));
            legendImage ??= await legend(openSetLegendEntries(detector.classNames), {
              maxHeight: 10_000,
            });
            await writePng(opensetPath, await sideBySide([labelImage, legendImage], { gap: 4 }));
            await writeNpy(npyPath, frame.scores, [frame.height, frame.width]);
            if (rawFrame) {
              const [logitsPath, posteriorPath, scorePath] = rawOutputs(flags.score).map((o) =>
                join(staged.dir, `${input.stem}.${o}`),
              ) as [string, string, string];
              const hw = [frame.height, frame.width];
              await writeNpy(logitsPath, rawFrame.logits, [...hw, K], '<f4');
              await writeNpy(posteriorPath, rawFrame.posteriorLogits, hw, '<f4');
              await writeNpy(scorePath, rawFrame.scores, hw, '<f4');
            }
          }
          // finished only once its line is on disk
          await log.write(`${JSON.stringify({ stem: input.stem, ...source })}\n`);
          await log.sync();
          done.set(input.stem, source);
          written++;
          progress.tick();
        }
      } finally {
        await log.close();
      }
      progress.done();
      // the published record: every image in --out after the merge, by name
      const images = { ...kept, ...Object.fromEntries(done) };
      const sorted = Object.fromEntries(
        Object.keys(images)
          .sort()
          .map((stem) => [stem, images[stem] as InferImage]),
      );
      await writeFileAtomic('infer', join(staged.dir, RECORD), record(sorted));
      await rm(progressPath, { force: true });
      // --fresh over outputs of other settings: the merge must not keep any of them
      const before = recordKey(published) as {
        outputFormat?: unknown;
        raw?: unknown;
        score?: unknown;
      } | null;
      const old = [
        ...INFER_OUTPUTS[before?.outputFormat === 'smiyc' ? 'smiyc' : 'standard'],
        ...(before?.raw === true && typeof before.score === 'string'
          ? rawOutputs(before.score)
          : []),
      ];
      for (const stem of replaced)
        for (const o of old) await rm(join(outDir, `${stem}.${o}`), { force: true });
      await staged.commit();
      ctx.result(
        {
          out: flags.out,
          format: flags.format,
          dir: outDir,
          images: inputs.map((i) => i.stem),
          threshold: smiyc ? null : (threshold ?? null),
          skipped,
        },
        [
          `wrote ${inputs.length} image${inputs.length === 1 ? '' : 's'} × {${outputs.join(',')}} into ${outDir}${skipped ? ` (${skipped} kept from the interrupted run)` : ''}`,
        ],
      );
    } finally {
      detector.dispose();
    }
  },
});
