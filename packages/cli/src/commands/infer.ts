import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import { readImage, writePng } from '@densehybrid/data-mixing';
import { loadModel } from '@densehybrid/core';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { openSetPrediction } from '@densehybrid/metrics-openiou';
import { openStagedDir, writeNpy } from '@densehybrid/metrics-openiou/node';
import { defineCommand } from '../command.js';
import { yieldToEventLoop } from '../io.js';
import { COLORMAP_NAMES, anomalyHeatmap, colorbar, overlay } from '../render/colormap.js';
import { colorizeLabels, legend, openSetLegendEntries } from '../render/labels.js';
import { sideBySide, stack } from '../render/panels.js';
import { BACKEND_FLAG, THREADS_FLAG, SCORE_FLAG, setupBackend, CHECKPOINT_FLAG } from './common.js';

const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.webp'];

/** One input image and the output stem (relative, without extension). */
interface InferInput {
  readonly path: string;
  readonly stem: string;
}

async function collectInputs(paths: readonly string[]): Promise<InferInput[]> {
  const { readdir } = await import('node:fs/promises');
  const out: InferInput[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st)
      throw new DenseHybridError(
        'IO',
        `infer: expected an image file or folder, got ${p} (not found)`,
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
            const rel = relative(p, full);
            out.push({
              path: full,
              stem: join(basename(p), rel.slice(0, rel.length - extname(rel).length)),
            });
          }
        }
      };
      await walk(p);
    } else {
      out.push({ path: p, stem: basename(p, extname(p)) });
    }
  }
  // two inputs with the same name (a/x.png, b/x.png) get x and x-2
  const seen = new Map<string, number>();
  const unique = out.map((input) => {
    const n = (seen.get(input.stem) ?? 0) + 1;
    seen.set(input.stem, n);
    return n === 1 ? input : { ...input, stem: `${input.stem}-${n}` };
  });
  if (unique.length === 0)
    throw new DenseHybridError(
      'IO',
      `infer: expected at least one image (${IMAGE_SUFFIXES.join(', ')}), got none in ${paths.join(', ')}`,
    );
  return unique;
}

/** The four files infer writes per image. */
const INFER_OUTPUTS = ['heatmap.png', 'overlay.png', 'openset.png', 'scores.npy'] as const;

/** `densehybrid infer`: anomaly maps for your own images. */
export const inferCommand = defineCommand({
  name: 'infer',
  summary: 'score images with a checkpoint: heatmap, overlay, open-set label map, raw float16 .npy',
  description: `For each image (files, or folders searched recursively) writes into --out:
  <name>.heatmap.png   anomaly score in a perceptual colormap
  <name>.overlay.png   the heatmap blended over the input, with a scale bar of the scores
  <name>.openset.png   open-set labels (K classes + unknown in white) with a legend
  <name>.scores.npy    the raw score map, float16 (NumPy '<f2', SMIYC's submission format)
The open-set map uses --threshold, else the checkpoint's calibrated threshold.
Outputs are staged in <out>.partial and published together; Ctrl-C keeps finished images and
the same command resumes.

example:
  densehybrid infer --checkpoint runs/sh photos/ street.jpg --out maps`,
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
    fresh: { type: 'boolean', description: 'ignore images finished by an interrupted run' },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
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
    const inputs = await collectInputs(ctx.positionals);
    await setupBackend(ctx, flags.backend, flags.threads);
    const detector = await loadModel(flags.checkpoint);
    try {
      const stored = detector.meta.threshold;
      const threshold =
        flags.threshold ?? (stored && stored.score === flags.score ? stored.value : undefined);
      if (threshold === undefined) {
        ctx.log(
          'note: no open-set threshold (pass --threshold or run `densehybrid calibrate`); openset.png shows the closed-set prediction',
        );
      }
      const staged = await openStagedDir(flags.out, { resume: !flags.fresh });
      const progress = ctx.progress({ label: 'infer', total: inputs.length });
      const K = detector.numClasses;
      const legendImage = await legend(openSetLegendEntries(detector.classNames), {
        maxHeight: 10_000,
      });
      let skipped = 0;
      const written: string[] = [];
      for (const input of inputs) {
        await yieldToEventLoop();
        if (ctx.signal.aborted) {
          throw new DenseHybridError(
            'INTERRUPTED',
            `infer: stopped after ${written.length + skipped}/${inputs.length} images; finished ones are kept in ${staged.dir}, run the same command again to resume`,
          );
        }
        const files = INFER_OUTPUTS.map((o) => join(staged.dir, `${input.stem}.${o}`));
        if (
          staged.resumed &&
          (
            await Promise.all(
              files.map((f) =>
                stat(f).then(
                  () => true,
                  () => false,
                ),
              ),
            )
          ).every(Boolean)
        ) {
          skipped++;
          progress.tick();
          continue;
        }
        const image = await readImage(input.path);
        const frame = await detector.score(image, flags.score);
        const heat = anomalyHeatmap(frame.scores, frame.width, frame.height, {
          colormap: flags.colormap,
          normalize: flags.normalize,
          min: flags.min,
          max: flags.max,
        });
        const labels =
          threshold === undefined
            ? frame.closed
            : openSetPrediction(frame.closed, frame.scores, threshold, K);
        const labelImage = colorizeLabels(labels, frame.width, frame.height, K);
        const [heatPath, overlayPath, opensetPath, npyPath] = files as [
          string,
          string,
          string,
          string,
        ];
        const { mkdir } = await import('node:fs/promises');
        await mkdir(dirname(heatPath), { recursive: true });
        await writePng(heatPath, heat.image);
        const scale = await colorbar(flags.colormap, {
          min: heat.min,
          max: heat.max,
          width: frame.width,
        });
        await writePng(overlayPath, stack([overlay(image, heat.image, flags.alpha), scale]));
        await writePng(opensetPath, await sideBySide([labelImage, legendImage], { gap: 4 }));
        await writeNpy(npyPath, frame.scores, [frame.height, frame.width]);
        written.push(input.stem);
        progress.tick();
      }
      progress.done();
      await staged.commit();
      ctx.result(
        {
          out: flags.out,
          images: inputs.map((i) => i.stem),
          threshold: threshold ?? null,
          skipped,
        },
        [
          `wrote ${inputs.length} image${inputs.length === 1 ? '' : 's'} × {${INFER_OUTPUTS.join(',')}} into ${flags.out}${skipped ? ` (${skipped} kept from the interrupted run)` : ''}`,
        ],
      );
    } finally {
      detector.dispose();
    }
  },
});
