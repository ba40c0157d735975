import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ladderDenseNet } from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  modelConfig,
  train,
  type TrainProgress,
} from '@densehybrid/core';
import {
  digitSceneBatches,
  loadDigitScenes,
  type DigitScenesOptions,
} from '@densehybrid/data-mixing';
import { denseHybridLoss } from '@densehybrid/losses';
import { writeFileAtomic, openStagedDir } from '@densehybrid/metrics-openiou/node';
import type { ResumeKey, ResumeKeyValue } from '@densehybrid/metrics-openiou/node';
import { checkResumeKey, readRecord } from '../resume.js';
import { evaluateTrack, fitSml, scoreSplit, type TrackMetrics } from './evaluate.js';
import {
  hybridFindings,
  summaryTable,
  writeExamplePngs,
  writePrCurves,
  writeReport,
} from './report.js';
import { loadDigitSceneSources } from './sources.js';

/**
 * Stage 2's training state in the output folder: a checkpoint folder (weights, Adam moments,
 * step, loss history; config and class names as `densehybrid train`'s `model/`), so that
 * `densehybrid infer / eval / calibrate --checkpoint <demo output>` load the trained model.
 */
const MODEL_DIR = 'model';
/** Stage 1's (closed-set) training state in the output folder, a checkpoint folder as well. */
const STATE_CLOSED_DIR = 'train-state-closed';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output folder (written atomically: `<out>.partial`, then renamed). @default 'demo-output' */
  readonly out: string;
  /** Where generated scenes are cached. @default '.densehybrid-cache' */
  readonly cacheDir: string;
  /** Closed-set training steps (stage 1: cross-entropy, no negatives). @default 500 */
  readonly closedSteps: number;
  /** Adam learning rate of stage 1 (cosine decay to 1 %). @default 3e-3 */
  readonly closedLearningRate: number;
  /** DenseHybrid fine-tuning steps (stage 2: mixed-content batches). @default 300 */
  readonly steps: number;
  /** Seed of scenes, initialisation and batches. @default 0 */
  readonly seed: number;
  /** Images per training batch. @default 24 */
  readonly batchSize: number;
  /** Adam learning rate of stage 2 for the head (cosine decay to 1 %). @default 1e-3 */
  readonly learningRate: number;
  /** Stage-2 backbone learning rate = learningRate × this. @default 0.25 (the authors' lr/4) */
  readonly backboneLearningRateFactor: number;
  /** DenseHybrid β (authors' variant: posterior weight 10β). @default 0.03 */
  readonly beta: number;
  /** Scene options (size, counts, inlier digits). */
  readonly scenes: DigitScenesOptions;
  /** Example scenes rendered per track. @default 4 */
  readonly examples: number;
  /** Training scenes used to fit SML statistics. @default 256 */
  readonly smlScenes: number;
}

/** The demo's defaults: trains in a few minutes on 2 CPU cores (wasm). */
export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  out: 'demo-output',
  cacheDir: '.densehybrid-cache',
  closedSteps: 500,
  closedLearningRate: 3e-3,
  steps: 300,
  seed: 0,
  batchSize: 24,
  learningRate: 1e-3,
  backboneLearningRateFactor: 0.25,
  beta: 0.03,
  scenes: { size: 64, trainScenes: 2000, valScenes: 100, testScenes: 200, glyphSide: [26, 42] },
  examples: 4,
  smlScenes: 256,
};

/** `--quick`: the whole pipeline on a toy configuration (CI; seconds, metrics meaningless). */
export const QUICK_DEMO_OPTIONS: Partial<DemoOptions> = {
  closedSteps: 3,
  steps: 4,
  batchSize: 4,
  scenes: {
    size: 32,
    trainScenes: 32,
    valScenes: 6,
    testScenes: 8,
    glyphSide: [10, 18],
    negativeCount: 50,
  },
  examples: 1,
  smlScenes: 16,
};

/** Hooks of {@link runDemo}. */
export interface DemoHooks {
  readonly log: (line: string) => void;
  /** Called once before training with the start step (a resumed run starts later). */
  readonly onTrainStart?: (
    stage: 'closed-set' | 'DenseHybrid',
    startStep: number,
    totalSteps: number,
  ) => void;
  readonly onProgress?: (p: TrainProgress) => void;
  readonly signal?: AbortSignal;
  /** Discard the training state an interrupted run left in `<out>.partial`. @default false */
  readonly fresh?: boolean;
}

/** What determines the demo's training states: an interrupted run of other settings is refused. */
function demoResumeKey(options: DemoOptions): ResumeKey {
  return {
    format: 'densehybrid/demo',
    version: 1,
    seed: options.seed,
    closedSteps: options.closedSteps,
    closedLearningRate: options.closedLearningRate,
    steps: options.steps,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    backboneLearningRateFactor: options.backboneLearningRateFactor,
    beta: options.beta,
    scenes: options.scenes as ResumeKeyValue,
  };
}

/** What {@link runDemo} returns. */
export interface DemoResult {
  /** False when interrupted: the staged output keeps a resumable training state. */
  readonly completed: boolean;
  readonly outDir: string;
  readonly tracks: readonly TrackMetrics[];
  readonly summary: readonly string[];
  readonly findings: readonly string[];
  /** Wall-clock seconds per phase, and the process' CPU seconds (user + system) in all. */
  readonly seconds: {
    readonly data: number;
    readonly train: number;
    readonly evaluate: number;
    readonly total: number;
    readonly cpu: number;
  };
  readonly trainedSteps: number;
  readonly startStep: number;
  readonly imagesPerSecond: number;
}

/**
 * The built-in benchmark end to end: scenes (cached), a tiny ladder DenseNet + dataset-posterior
 * head trained with the DenseHybrid loss on mixed-content batches, evaluation of every score on
 * the near-OOD and far-OOD tracks, and report.md / metrics.json / PNGs in `out`.
 */
export async function runDemo(options: DemoOptions, hooks: DemoHooks): Promise<DemoResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const cpuSeconds = (): number => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / 1e6;
  };
  const { scenes, fromCache } = await loadDigitScenes({
    ...options.scenes,
    seed: options.seed,
    cacheDir: options.cacheDir,
    sources: loadDigitSceneSources,
    log: hooks.log,
  });
  const tData = performance.now();
  hooks.log(
    `scenes: ${scenes.train.count} train, ${scenes.val.near.count}+${scenes.val.far.count} val, ${scenes.test.near.count}+${scenes.test.far.count} test (${scenes.train.size}×${scenes.train.size}, K=${scenes.numClasses})${fromCache ? ' from cache' : ''}`,
  );
  const staged = await openStagedDir(options.out, { resume: !(hooks.fresh ?? false) });
  const resumeKey = demoResumeKey(options);
  for (const state of [STATE_CLOSED_DIR, MODEL_DIR]) {
    // the state's checkpoint.json holds the key in its meta (train()'s resumeKey)
    const manifest = await readRecord(join(staged.dir, state, 'checkpoint.json'));
    if (manifest === undefined) continue;
    const meta = (manifest as { meta?: { resumeKey?: unknown } } | null)?.meta;
    checkResumeKey(
      `--out ${options.out} holds an interrupted demo`,
      meta === undefined ? null : (meta.resumeKey ?? {}),
      resumeKey,
      'rerun with --fresh to start over',
    );
  }
  const backbone = ladderDenseNet({
    preset: 'tiny',
    numClasses: scenes.numClasses,
    seed: options.seed,
  });
  const head = datasetPosteriorHead({
    channels: backbone.preLogitChannels,
    seed: options.seed + 1,
  });
  const model = createDenseHybridModel({ backbone, head });
  try {
    const common = {
      model,
      checkpointEvery: 50,
      resume: true,
      resumeKey,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      // every training state is a checkpoint `densehybrid infer / eval --checkpoint` can load:
      // the model-file config (modelConfig) and the class names
      config: modelConfig(model),
      meta: {
        classNames: scenes.classNames,
        dataset: 'demo',
        demo: { ...options, out: undefined, cacheDir: undefined },
      },
    };
    // stage 1 (paper: "train in closed world, then fine-tune on mixed-content images"):
    // cross-entropy only, no negatives
    let closedStart = 0;
    const closed = await train({
      ...common,
      steps: options.closedSteps,
      data: (start) => {
        closedStart = start;
        hooks.onTrainStart?.('closed-set', start, options.closedSteps);
        return digitSceneBatches(scenes, start, {
          batchSize: options.batchSize,
          seed: options.seed,
          negativeProbability: 0,
        });
      },
      loss: (inputs) => {
        const r = denseHybridLoss(inputs, { beta: options.beta });
        return { total: r.classification, classification: r.classification };
      },
      learningRate: options.closedLearningRate,
      backboneLearningRateFactor: 1,
      checkpointPath: join(staged.dir, STATE_CLOSED_DIR),
    });
    // stage 2: DenseHybrid fine-tuning on mixed-content batches (pasted clothing = label K)
    let startStep = 0;
    const result = closed.aborted
      ? closed
      : await train({
          ...common,
          steps: options.steps,
          data: (start) => {
            startStep = start;
            hooks.onTrainStart?.('DenseHybrid', start, options.steps);
            return digitSceneBatches(scenes, start, {
              batchSize: options.batchSize,
              seed: options.seed + 1,
            });
          },
          loss: (inputs) => {
            const r = denseHybridLoss(inputs, { beta: options.beta });
            return {
              total: r.total,
              classification: r.classification,
              likelihood: r.likelihood,
              posterior: r.posterior,
            };
          },
          learningRate: options.learningRate,
          backboneLearningRateFactor: options.backboneLearningRateFactor,
          checkpointPath: join(staged.dir, MODEL_DIR),
        });
    const tTrain = performance.now();
    const trainSeconds = closed.seconds + (result === closed ? 0 : result.seconds);
    const trainedSteps = closed.step + (result === closed ? 0 : result.step);
    const base = {
      outDir: options.out,
      trainedSteps,
      startStep: closedStart + startStep,
      imagesPerSecond:
        ((trainedSteps - closedStart - startStep) * options.batchSize) /
        Math.max(trainSeconds, 1e-9),
    };
    if (result.aborted) {
      hooks.log(
        `interrupted at step ${trainedSteps}/${options.closedSteps + options.steps}: the training state is in ${staged.dir}; run the demo again to resume`,
      );
      const s = (tTrain - t0) / 1000;
      return {
        ...base,
        completed: false,
        tracks: [],
        summary: [],
        findings: [],
        seconds: {
          data: (tData - t0) / 1000,
          train: (tTrain - tData) / 1000,
          evaluate: 0,
          total: s,
          cpu: cpuSeconds(),
        },
      };
    }
    hooks.log('evaluating: fitting SML statistics, scoring validation and test scenes');
    const sml = await fitSml(model, scenes, options.smlScenes);
    const K = scenes.numClasses;
    const tracks: TrackMetrics[] = [];
    const files: string[] = [
      'report.md',
      'metrics.json',
      `${STATE_CLOSED_DIR}/ (closed-set stage: training state)`,
      `${MODEL_DIR}/ (the trained model and its training state: \`densehybrid infer --checkpoint <this folder>\`)`,
    ];
    for (const track of ['near', 'far'] as const) {
      const val = await scoreSplit(model, scenes.val[track], K, sml);
      const test = await scoreSplit(model, scenes.test[track], K, sml);
      const metrics = evaluateTrack(track, val, test, K);
      tracks.push(metrics);
      files.push(await writePrCurves(staged.dir, metrics));
      files.push(
        ...(await writeExamplePngs(
          staged.dir,
          scenes,
          metrics,
          scenes.test[track],
          test,
          options.examples,
        )),
      );
    }
    const tEval = performance.now();
    const findings = hybridFindings(tracks);
    const summary = summaryTable(tracks);
    const seconds = {
      data: (tData - t0) / 1000,
      train: (tTrain - tData) / 1000,
      evaluate: (tEval - tTrain) / 1000,
      total: (tEval - t0) / 1000,
      cpu: cpuSeconds(),
    };
    const setup = [
      `scenes: ${scenes.train.size}×${scenes.train.size}, inlier digits ${scenes.options.inlierDigits.join(', ')} (classes 1–${K - 1}, background 0), ${scenes.train.count} training scenes; negatives pasted while training: ${scenes.negatives.count} Fashion-MNIST training items (label K = ${K})`,
      `tracks: near-OOD = held-out digits ${[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((d) => !scenes.options.inlierDigits.includes(d)).join(', ')}; far-OOD = Fashion-MNIST test items; ${scenes.val.near.count} validation and ${scenes.test.near.count} test scenes per track`,
      `model: ladderDenseNet tiny (${backbone.parameterCount()} parameters) + dataset-posterior head (BN-ReLU-Conv1×1), trained from scratch`,
      `training (as the paper: closed world first, then DenseHybrid fine-tuning): ${closed.step} closed-set steps (cross-entropy, Adam lr ${options.closedLearningRate}), then ${result.step} DenseHybrid steps (authors' loss variant, β = ${options.beta}, posterior weight ${10 * options.beta}; Adam lr ${options.learningRate}, backbone × ${options.backboneLearningRateFactor}), ${options.batchSize} images per step, cosine schedules to 1 %, seed ${options.seed}${base.startStep > 0 ? `, resumed at step ${base.startStep}` : ''}`,
      `metrics: pooled over all test pixels; AP step-wise, FPR at TPR ≥ 95 %, AUROC; open-mIoU over the K known classes (nanmean) with each score's threshold calibrated on the validation split at TPR 95 %`,
      `time: data ${seconds.data.toFixed(0)} s, training ${seconds.train.toFixed(0)} s (${base.imagesPerSecond.toFixed(1)} images/s, backend ${tf.getBackend()}), evaluation ${seconds.evaluate.toFixed(0)} s; ${seconds.cpu.toFixed(0)} CPU seconds in all (wall time above CPU time means other processes shared the cores)`,
    ];
    await writeFileAtomic(
      join(staged.dir, 'metrics.json'),
      JSON.stringify(
        {
          format: 'densehybrid/demo-metrics',
          version: 1,
          backend: tf.getBackend(),
          seconds,
          training: {
            batchSize: options.batchSize,
            imagesPerSecond: base.imagesPerSecond,
            closed: { steps: closed.step, history: closed.history },
            denseHybrid: { steps: result.step, history: result.history },
          },
          options: { ...options },
          tracks: tracks.map((t) => ({
            track: t.track,
            closedMIoU: t.closedMIoU,
            closedIoU: t.closedIoU,
            hybridWeightSweep: t.hybridWeightSweep,
            interior: t.interior,
            anomalyPixelFraction: t.anomalyPixelFraction,
            scores: t.scores,
          })),
          findings,
        },
        null,
        1,
      ),
    );
    await writeReport(staged.dir, { tracks, findings, setup, files });
    await staged.commit();
    return { ...base, completed: true, tracks, summary, findings, seconds };
  } finally {
    model.dispose();
  }
}
