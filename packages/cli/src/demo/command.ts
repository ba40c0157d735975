import { resolve } from 'node:path';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { defineCommand, type CommandContext } from '../command.js';
import { CliUsageError } from '../args.js';
import { formatDuration } from '../io.js';
import { THREADS_FLAG, threadsOption } from '../commands/common.js';
import {
  DEFAULT_DEMO_OPTIONS,
  QUICK_DEMO_OPTIONS,
  runDemo,
  type DemoHooks,
  type DemoOptions,
} from './pipeline.js';
import { DEFAULT_PRETRAIN_STEPS, runPretrain } from './pretrain.js';
import { SHIPPED_PRETRAINED_DIR } from './pretrained.js';
import { DEMO_TRACK_TITLES } from './scenes.js';
import { runStudy } from './study.js';
import { PRETRAIN_STEPS_FACTOR, STUDY_CONFIG_IDS, selectStudyConfigs } from './study-configs.js';

/** Splits a comma-separated list into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => `  ${l}`);
}

/** Progress hooks that draw one bar per training stage. */
function progressHooks(
  ctx: CommandContext,
  batchSize: number,
): {
  onTrainStart: NonNullable<DemoHooks['onTrainStart']>;
  onProgress: NonNullable<DemoHooks['onProgress']>;
  done(): void;
} {
  let bar: ReturnType<typeof ctx.progress> | undefined;
  return {
    onTrainStart: (stage, start, total) => {
      bar?.done();
      bar = undefined;
      if (start >= total) {
        ctx.log(`${stage} training: reusing the finished state (${total} steps)`);
        return;
      }
      if (start > 0) ctx.log(`resuming ${stage} training at step ${start}/${total}`);
      bar = ctx.progress({ label: stage, total, itemsPerStep: batchSize, start });
    },
    onProgress: (p) =>
      bar?.tick(1, {
        loss: p.loss['total']?.toFixed(3) ?? '',
        cls: p.loss['classification']?.toFixed(3) ?? '',
        lr: p.learningRate.toExponential(1),
      }),
    done: () => {
      bar?.done();
      bar = undefined;
    },
  };
}

/**
 * `densehybrid demo`: builds the built-in digit/clothing benchmark, trains DenseHybrid on it,
 * evaluates every anomaly score on the near-OOD, seen-family and unseen-family tracks and writes
 * a report; `--study` runs the ablation study, `--pretrain` writes the closed-set checkpoint.
 */
export const demoCommand = defineCommand({
  name: 'demo',
  summary:
    'train and evaluate DenseHybrid on the built-in MNIST/Fashion-MNIST scenes (minutes, CPU)',
  description: [
    'Builds scenes of handwritten digits on textured backgrounds (inliers: digits 0-5), trains a',
    'tiny ladder DenseNet on them in closed world, then fine-tunes it with the DenseHybrid loss on',
    'mixed-content images (Fashion-MNIST tops and footwear pasted as negatives), and evaluates',
    'max-softmax, max-logit, entropy, SML (full, and its standardisation alone), generative,',
    'discriminative and hybrid scores on three tracks: near-OOD (held-out digits 6-9), seen family',
    '(test items of the negative classes) and unseen family (trousers, dresses, bags: never',
    'pasted): AP, FPR95, AUROC, closed mIoU and open-mIoU (thresholds from validation splits).',
    'Writes report.md, metrics.json and PNGs to --out, and the trained model in --out/model (a',
    'checkpoint: densehybrid infer/eval/calibrate --checkpoint <out> load it). Ctrl-C saves the',
    'training state; run the same command again to resume (an interrupted demo with other',
    'settings is refused, exit 2; --fresh starts over).',
    '',
    'By default stage 1 is the closed-set checkpoint shipped with the CLI (assets/demo-closed-set,',
    'digest checked), fine-tuned as the paper fine-tunes a trained segmenter; --no-pretrained',
    'trains stage 1 from scratch (--closed-steps); --pretrain writes that checkpoint',
    `(${DEFAULT_PRETRAIN_STEPS} closed-set steps by default, seed 0, resumable; --out to write it elsewhere).`,
    '',
    '--study runs the ablation study: every configuration × seeds 0..n-1 (--seed is ignored),',
    'resumable, --out default demo-study. Configurations:',
    ...wrap(STUDY_CONFIG_IDS.join(', '), 92),
    'Writes study.md (AP mean ± sd per track and configuration), study.json, study.svg, study.png.',
    '',
    'Examples: densehybrid demo --no-pretrained --closed-steps 200 --steps 100 --out demo-output',
    '          densehybrid demo --study --study-seeds 1 --study-configs base,no-posterior \\',
    '            --study-scale 0.2',
  ].join('\n'),
  flags: {
    steps: {
      type: 'integer',
      min: 1,
      description: `DenseHybrid fine-tuning steps (default ${DEFAULT_DEMO_OPTIONS.steps})`,
    },
    closedSteps: {
      type: 'integer',
      min: 1,
      description: `closed-set training steps before fine-tuning (default ${DEFAULT_DEMO_OPTIONS.closedSteps}; with --pretrain ${DEFAULT_PRETRAIN_STEPS})`,
    },
    seed: { type: 'integer', default: 0, description: 'seed of scenes, weights and batches' },
    out: {
      type: 'path',
      description: 'output folder (default demo-output; --study: demo-study)',
    },
    cache: {
      type: 'path',
      description: 'scene cache folder (default .densehybrid-cache)',
    },
    quick: { type: 'boolean', description: 'toy configuration that runs in seconds (CI)' },
    fresh: {
      type: 'boolean',
      description: 'discard the training state of an interrupted demo (or study) and start over',
    },
    pretrained: {
      type: 'boolean',
      default: true,
      description:
        'fine-tune the shipped closed-set checkpoint (--no-pretrained: train stage 1 from scratch for --closed-steps; --quick always does)',
    },
    pretrainedDir: {
      type: 'path',
      placeholder: 'dir',
      description:
        'the closed-set checkpoint of --pretrained (implies it; default the shipped one)',
    },
    pretrain: {
      type: 'boolean',
      description: 'train and write the closed-set checkpoint that --pretrained fine-tunes',
    },
    study: { type: 'boolean', description: 'run the ablation study instead of one demo' },
    studySeeds: {
      type: 'integer',
      min: 1,
      default: 3,
      placeholder: 'n',
      description: 'study: seeds 0..n-1 per configuration',
    },
    studyConfigs: {
      type: 'string[]',
      placeholder: 'ids',
      description: 'study: configurations to run, comma-separated or repeated (default all)',
    },
    studyScale: {
      type: 'number',
      exclusiveMin: 0,
      default: 1,
      placeholder: 'f',
      description: 'study: × every step count (reduced-size studies)',
    },
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const modes = [flags.study, flags.pretrain].filter(Boolean).length;
    if (modes > 1) throw new CliUsageError('demo: expected at most one of --study and --pretrain');
    const backend = await initBackend({ log: ctx.debug, ...threadsOption(flags.threads) });
    ctx.log(
      `backend: ${backend.name}${backend.threads !== undefined && backend.threads > 1 ? ` (${backend.threads} threads for the convolutions)` : ''}`,
    );
    const base: DemoOptions = {
      ...DEFAULT_DEMO_OPTIONS,
      ...(flags.quick ? QUICK_DEMO_OPTIONS : {}),
    };
    const defaultOut = flags.study ? 'demo-study' : 'demo-output';
    const options: DemoOptions = {
      ...base,
      seed: flags.seed,
      out: resolve(ctx.io.cwd, flags.out ?? defaultOut),
      cacheDir: resolve(ctx.io.cwd, flags.cache ?? base.cacheDir),
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.closedSteps !== undefined ? { closedSteps: flags.closedSteps } : {}),
      // the default demo fine-tunes the shipped segmenter, as the paper fine-tunes a trained one
      // (the study's `pretrained` row); --quick's toy scenes do not fit it
      ...((flags.pretrained && !flags.quick) || flags.pretrainedDir !== undefined
        ? { initialization: 'pretrained' as const }
        : {}),
      ...(flags.pretrainedDir !== undefined
        ? { pretrainedDir: resolve(ctx.io.cwd, flags.pretrainedDir) }
        : {}),
    };
    const progress = progressHooks(ctx, options.batchSize);
    const hooks = {
      log: (l: string) => ctx.log(l),
      signal: ctx.signal,
      fresh: flags.fresh,
      onTrainStart: progress.onTrainStart,
      onProgress: progress.onProgress,
    } satisfies DemoHooks;

    if (flags.pretrain) {
      const dir = flags.out === undefined ? SHIPPED_PRETRAINED_DIR : options.out;
      const closedSteps =
        flags.closedSteps ??
        (flags.quick ? base.closedSteps * PRETRAIN_STEPS_FACTOR : DEFAULT_PRETRAIN_STEPS);
      const result = await runPretrain(
        { ...options, initialization: base.initialization, closedSteps },
        dir,
        hooks,
      );
      progress.done();
      if (!result.completed) return 130;
      ctx.result(result, [
        `pretrained closed-set checkpoint: ${result.dir} (${((result.bytes ?? 0) / 1024).toFixed(0)} KiB of weights, ${closedSteps} steps, ${formatDuration(result.seconds)})`,
        `closed mIoU on the near-OOD test scenes: ${result.closedMIoU?.toFixed(1)} %`,
        `digest: ${result.digest} (in ${result.dir}.sha256)`,
      ]);
      return 0;
    }

    if (flags.study) {
      const configs = selectStudyConfigs(
        (flags.studyConfigs ?? []).flatMap((v) => v.split(',')).filter((v) => v !== ''),
      );
      const seeds = Array.from({ length: flags.studySeeds }, (_, i) => i);
      const t0 = performance.now();
      const result = await runStudy(
        {
          out: options.out,
          // the study's rows say how each starts (`base` trains stage 1, `pretrained` does not)
          base: { ...options, seed: 0, initialization: base.initialization },
          configs,
          seeds,
          scale: flags.studyScale,
        },
        {
          ...hooks,
          onRunStart: (r) => {
            progress.done();
            ctx.log(
              `study [${r.index}/${r.total}] ${r.config}, seed ${r.seed}${Number.isFinite(r.etaSeconds) ? ` — about ${formatDuration(r.etaSeconds)} left for the study` : ''}`,
            );
          },
        },
      );
      progress.done();
      if (!result.completed) {
        ctx.log(
          `study interrupted after ${result.runs.length} runs: rerun the same command to resume`,
        );
        return 130;
      }
      ctx.result({ out: result.out, files: result.files, runs: result.runs }, [
        result.markdown,
        `study: ${result.runs.length} runs in ${formatDuration((performance.now() - t0) / 1000)}; ${result.files.map((f) => `${result.out}/${f}`).join(', ')}`,
      ]);
      return 0;
    }

    const result = await runDemo(options, hooks);
    progress.done();
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
        `closed mIoU: ${result.tracks.map((t) => `${t.track} ${t.closedMIoU.toFixed(1)} %`).join(', ')}   (AP, FPR95, AUROC, open-mIoU in %)`,
        `tracks: ${result.tracks.map((t) => `${t.track} = ${DEMO_TRACK_TITLES[t.track]}`).join('; ')}`,
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
