import { resolve } from 'node:path';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { defineCommand } from '../command.js';
import { formatDuration } from '../io.js';
import { THREADS_FLAG, threadsOption } from '../commands/common.js';
import { DEFAULT_DEMO_OPTIONS, QUICK_DEMO_OPTIONS, runDemo, type DemoOptions } from './pipeline.js';

/**
 * `densehybrid demo`: builds the built-in digit/clothing benchmark, trains DenseHybrid on it,
 * evaluates every anomaly score on the near-OOD and far-OOD tracks and writes a report.
 */
export const demoCommand = defineCommand({
  name: 'demo',
  summary:
    'train and evaluate DenseHybrid on the built-in MNIST/Fashion-MNIST scenes (minutes, CPU)',
  description: [
    'Builds scenes of handwritten digits on textured backgrounds (inliers: digits 0-5), trains a',
    'tiny ladder DenseNet on them in closed world, then fine-tunes it with the DenseHybrid loss on',
    'mixed-content images (Fashion-MNIST clothing pasted as negatives), and evaluates max-softmax,',
    'max-logit, entropy, SML, generative, discriminative and hybrid scores on held-out digits',
    '(near-OOD) and clothing (far-OOD): AP, FPR95, AUROC, closed mIoU and open-mIoU.',
    'Writes report.md, metrics.json and PNGs to --out, and the trained model in --out/model (a',
    'checkpoint: densehybrid infer/eval/calibrate --checkpoint <out> load it). Ctrl-C saves the',
    'training state; run the same command again to resume (an interrupted demo with other',
    'settings is refused, exit 2; --fresh starts over).',
    '',
    'Example: densehybrid demo --closed-steps 200 --steps 100 --out demo-output',
  ].join('\n'),
  flags: {
    steps: {
      type: 'integer',
      description: `DenseHybrid fine-tuning steps (default ${DEFAULT_DEMO_OPTIONS.steps})`,
    },
    closedSteps: {
      type: 'integer',
      description: `closed-set training steps before fine-tuning (default ${DEFAULT_DEMO_OPTIONS.closedSteps})`,
    },
    seed: { type: 'integer', default: 0, description: 'seed of scenes, weights and batches' },
    out: { type: 'path', default: 'demo-output', description: 'output folder' },
    cache: {
      type: 'path',
      description: 'scene cache folder (default .densehybrid-cache)',
    },
    quick: { type: 'boolean', description: 'toy configuration that runs in seconds (CI)' },
    fresh: {
      type: 'boolean',
      description: 'discard the training state of an interrupted demo and start over',
    },
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const backend = await initBackend({ log: ctx.debug, ...threadsOption(flags.threads) });
    ctx.log(
      `backend: ${backend.name}${backend.threads !== undefined && backend.threads > 1 ? ` (${backend.threads} threads for the convolutions)` : ''}`,
    );
    const base: DemoOptions = {
      ...DEFAULT_DEMO_OPTIONS,
      ...(flags.quick ? QUICK_DEMO_OPTIONS : {}),
    };
    const options: DemoOptions = {
      ...base,
      seed: flags.seed,
      out: resolve(ctx.io.cwd, flags.out),
      cacheDir: resolve(ctx.io.cwd, flags.cache ?? base.cacheDir),
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.closedSteps !== undefined ? { closedSteps: flags.closedSteps } : {}),
    };
    let bar: ReturnType<typeof ctx.progress> | undefined;
    const result = await runDemo(options, {
      log: (l) => ctx.log(l),
      signal: ctx.signal,
      fresh: flags.fresh,
      onTrainStart: (stage, start, total) => {
        bar?.done();
        if (start > 0) ctx.log(`resuming ${stage} training at step ${start}/${total}`);
        bar = ctx.progress({ label: stage, total, itemsPerStep: options.batchSize, start });
      },
      onProgress: (p) =>
        bar?.tick(1, {
          loss: p.loss['total']?.toFixed(3) ?? '',
          cls: p.loss['classification']?.toFixed(3) ?? '',
          lr: p.learningRate.toExponential(1),
        }),
    });
    bar?.done();
    if (!result.completed) return 130;
    ctx.result(
      {
        outDir: result.outDir,
        seconds: result.seconds,
        tracks: result.tracks.map((t) => ({
          track: t.track,
          closedMIoU: t.closedMIoU,
          scores: t.scores,
        })),
        findings: result.findings,
      },
      [
        '',
        `DenseHybrid demo: ${result.trainedSteps} steps, ${result.imagesPerSecond.toFixed(1)} images/s, ${formatDuration(result.seconds.total)} in all (${formatDuration(result.seconds.cpu)} CPU)`,
        `closed mIoU: near ${result.tracks[0]?.closedMIoU.toFixed(1)} %, far ${result.tracks[1]?.closedMIoU.toFixed(1)} %   (AP, FPR95, AUROC, open-mIoU in %)`,
        '',
        ...result.summary,
        '',
        ...result.findings,
        '',
        `report: ${result.outDir}/report.md`,
      ],
    );
    return 0;
  },
});
