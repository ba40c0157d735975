import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ladderDenseNet } from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  modelConfig,
  train,
  type DenseHybridModel,
  type TrainProgress,
  type TrainResult,
  type TrainingLoss,
} from '@densehybrid/core';
import {
  digitSceneBatches,
  type DigitScenes,
  type DigitScenesOptions,
  type SegmentationBatch,
} from '@densehybrid/data-mixing';
import { denseHybridLoss, type DenseHybridLossVariant } from '@densehybrid/losses';
import { writeFileAtomic, openStagedDir } from '@densehybrid/metrics-openiou/node';
import type { ResumeKey, ResumeKeyValue } from '@densehybrid/metrics-openiou/node';
import { checkResumeKey, readRecord } from '../resume.js';
import { evaluateTrack, fitSml, scoreSplit, type TrackMetrics } from './evaluate.js';
import {
  DEFAULT_NEGATIVE_FAMILIES,
  DEFAULT_UNSEEN_FAMILIES,
  DEMO_FAMILIES,
  type DemoFamily,
} from './families.js';
import { loadPretrained, type PretrainedInfo } from './pretrained.js';
import {
  hybridFindings,
  summaryTable,
  writeExamplePngs,
  writePrCurves,
  writeReport,
} from './report.js';
import { loadDemoScenes, type DemoScenes, type DemoTrackName } from './scenes.js';
import type { DemoGlyphs } from './sources.js';

/**
 * Stage 2's training state in the output folder: a checkpoint folder (weights, Adam moments,
 * step, loss history; config and class names as `densehybrid train`'s `model/`), so that
 * `densehybrid infer / eval / calibrate --checkpoint <demo output>` load the trained model.
 */
const MODEL_DIR = 'model';
/** Stage 1's (closed-set) training state in the output folder, a checkpoint folder as well. */
const STATE_CLOSED_DIR = 'train-state-closed';

/** Which terms of the DenseHybrid loss stage 2 trains with (an ablation of the paper's Table 6 kind). */
export type DemoLossTerms = 'all' | 'no-likelihood' | 'no-posterior';

/** How stage 2's model starts. */
export type DemoInitialization = 'scratch' | 'pretrained';

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
  /** DenseHybrid β. @default 0.03 */
  readonly beta: number;
  /** Loss weighting: the authors' code or the paper's eq. 15. @default 'authors' */
  readonly lossVariant: DenseHybridLossVariant;
  /** Posterior-term weight of the authors' variant, as a multiple of β. @default 10 (10β, the authors') */
  readonly posteriorWeightFactor: number;
  /** Loss terms of stage 2. @default 'all' */
  readonly lossTerms: DemoLossTerms;
  /**
   * `scratch`: stage 1 trains the segmenter (closedSteps); `pretrained`: stage 1 is replaced by
   * the closed-set checkpoint at `pretrainedDir` (`densehybrid demo --pretrain` writes it).
   * @default 'scratch'
   */
  readonly initialization: DemoInitialization;
  /** The closed-set checkpoint of `initialization: 'pretrained'`. @default the one shipped with the CLI */
  readonly pretrainedDir?: string;
  /** Families pasted as negatives (their test items: the seen-family track). @default ['tops', 'footwear'] */
  readonly negatives: readonly DemoFamily[];
  /** Families held out of training (the unseen-family track). @default ['trousers', 'dresses', 'bags'] */
  readonly unseen: readonly DemoFamily[];
  /** Scene options (size, counts, inlier digits). */
  readonly scenes: DigitScenesOptions;
  /** Example scenes rendered per track. @default 4 */
  readonly examples: number;
  /** Write PR curves and example PNGs. @default true */
  readonly figures: boolean;
  /** Training scenes used to fit SML statistics. @default 256 */
  readonly smlScenes: number;
  /**
   * Stage 1's training state; several runs that share every closed-set setting can share it
   * (the study does). @default `<out>/train-state-closed`
   */
  readonly closedStateDir?: string;
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
  lossVariant: 'authors',
  posteriorWeightFactor: 10,
  lossTerms: 'all',
  initialization: 'scratch',
  negatives: DEFAULT_NEGATIVE_FAMILIES,
  unseen: DEFAULT_UNSEEN_FAMILIES,
  scenes: { size: 64, trainScenes: 2000, valScenes: 100, testScenes: 200, glyphSide: [26, 42] },
  examples: 4,
  figures: true,
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
  /** Where the glyphs come from (tests). @default the `mnist` / `fashion-mnist` packages */
  readonly glyphs?: () => Promise<DemoGlyphs>;
}

/** What determines stage 1's training state (shared by runs that agree on all of it). */
export function closedResumeKey(options: DemoOptions): ResumeKey {
  return {
    format: 'densehybrid/demo-closed',
    version: 1,
    seed: options.seed,
    closedSteps: options.closedSteps,
    closedLearningRate: options.closedLearningRate,
    batchSize: options.batchSize,
    scenes: options.scenes as ResumeKeyValue,
  };
}

/** What determines the demo's stage-2 state: an interrupted run of other settings is refused. */
function demoResumeKey(options: DemoOptions, pretrained: PretrainedInfo | undefined): ResumeKey {
  return {
    format: 'densehybrid/demo',
    version: 2,
    seed: options.seed,
    ...(pretrained === undefined
      ? {
          closedSteps: options.closedSteps,
          closedLearningRate: options.closedLearningRate,
        }
      : { pretrained: pretrained.digest }),
    steps: options.steps,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    backboneLearningRateFactor: options.backboneLearningRateFactor,
    beta: options.beta,
    lossVariant: options.lossVariant,
    posteriorWeightFactor: options.posteriorWeightFactor,
    lossTerms: options.lossTerms,
    negatives: [...options.negatives],
    unseen: [...options.unseen],
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

/** The tiny ladder DenseNet + dataset-posterior head the demo trains. */
export function demoModel(numClasses: number, seed: number): DenseHybridModel {
  const backbone = ladderDenseNet({ preset: 'tiny', numClasses, seed });
  const head = datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: seed + 1 });
  return createDenseHybridModel({ backbone, head });
}

/** Stage 1's batches: training scenes, no negatives. */
export function closedSetBatches(
  scenes: DigitScenes,
  start: number,
  options: Pick<DemoOptions, 'batchSize' | 'seed'>,
): AsyncGenerator<SegmentationBatch, void, undefined> {
  return digitSceneBatches(scenes, start, {
    batchSize: options.batchSize,
    seed: options.seed,
    negativeProbability: 0,
  });
}

/** Stage 2's mixed-content batches: negatives (label K) pasted from `scenes.negatives` only. */
export function mixedContentDemoBatches(
  scenes: DigitScenes,
  start: number,
  options: Pick<DemoOptions, 'batchSize' | 'seed'>,
): AsyncGenerator<SegmentationBatch, void, undefined> {
  return digitSceneBatches(scenes, start, { batchSize: options.batchSize, seed: options.seed + 1 });
}

/** Stage 1's loss: cross-entropy only. */
const closedSetLoss: TrainingLoss = (inputs) => {
  const r = denseHybridLoss(inputs);
  return { total: r.classification, classification: r.classification };
};

/**
 * Stage 2's loss: DenseHybrid (the chosen variant and weights), or with one term left out:
 * authors' total = CE + β·likelihood + w·posterior (w = posteriorWeightFactor·β), paper's
 * total = CE + β·likelihood + posterior.
 */
function demoLoss(
  options: Pick<DemoOptions, 'beta' | 'lossVariant' | 'posteriorWeightFactor' | 'lossTerms'>,
): TrainingLoss {
  const weight = options.posteriorWeightFactor * options.beta;
  return (inputs) => {
    const r = denseHybridLoss(inputs, {
      beta: options.beta,
      variant: options.lossVariant,
      posteriorWeight: weight,
    });
    const terms = {
      classification: r.classification,
      likelihood: r.likelihood,
      posterior: r.posterior,
    };
    if (options.lossTerms === 'all') return { total: r.total, ...terms };
    const posterior = options.lossVariant === 'authors' ? tf.mul(weight, r.posterior) : r.posterior;
    const total =
      options.lossTerms === 'no-likelihood'
        ? tf.add(r.classification, posterior)
        : tf.add(r.classification, tf.mul(options.beta, r.likelihood));
    return { total: total as tf.Scalar, ...terms };
  };
}

/** The meta of every training state: the class names and the demo's options. */
function stateMeta(scenes: DigitScenes, options: DemoOptions): Record<string, unknown> {
  return {
    classNames: scenes.classNames,
    dataset: 'demo',
    demo: { ...options, out: undefined, cacheDir: undefined, closedStateDir: undefined },
  };
}

/**
 * Stage 1 (paper: "train in closed world, then fine-tune on mixed-content images"):
 * cross-entropy on clean training scenes; resumable from `stateDir`.
 */
export async function trainClosedStage(
  model: DenseHybridModel,
  scenes: DigitScenes,
  options: DemoOptions,
  stateDir: string,
  hooks: Pick<DemoHooks, 'onTrainStart' | 'onProgress' | 'signal'>,
): Promise<TrainResult & { readonly firstStep: number }> {
  let firstStep = 0;
  const result = await train({
    model,
    steps: options.closedSteps,
    checkpointEvery: 50,
    resume: true,
    resumeKey: closedResumeKey(options),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
    config: modelConfig(model),
    meta: stateMeta(scenes, options),
    data: (start) => {
      firstStep = start;
      hooks.onTrainStart?.('closed-set', start, options.closedSteps);
      return closedSetBatches(scenes, start, options);
    },
    loss: closedSetLoss,
    learningRate: options.closedLearningRate,
    backboneLearningRateFactor: 1,
    checkpointPath: stateDir,
  });
  return { ...result, firstStep };
}

const NO_TRAINING: TrainResult & { readonly firstStep: number } = {
  step: 0,
  startStep: 0,
  aborted: false,
  history: [],
  imagesPerSecond: 0,
  seconds: 0,
  firstStep: 0,
};

/** Loads the demo's scenes and tracks for `options`. */
export function demoScenes(
  options: DemoOptions,
  log: (line: string) => void,
  glyphs?: () => Promise<DemoGlyphs>,
): Promise<DemoScenes> {
  return loadDemoScenes({
    scenes: options.scenes,
    seed: options.seed,
    cacheDir: options.cacheDir,
    negatives: options.negatives,
    unseen: options.unseen,
    log,
    ...(glyphs ? { glyphs } : {}),
  });
}

/**
 * The built-in benchmark end to end: scenes (cached), a tiny ladder DenseNet + dataset-posterior
 * head trained closed-set and then with the DenseHybrid loss on mixed-content batches (or
 * fine-tuned from the pretrained closed-set checkpoint), evaluation of every score on the
 * near-OOD, seen-family and unseen-family tracks, and report.md / metrics.json / PNGs in `out`.
 */
export async function runDemo(options: DemoOptions, hooks: DemoHooks): Promise<DemoResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const cpuSeconds = (): number => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / 1e6;
  };
  const data = await demoScenes(options, hooks.log, hooks.glyphs);
  const { scenes } = data;
  const tData = performance.now();
  hooks.log(
    `scenes: ${scenes.train.count} train, ${data.tracks.map((t) => `${t.val.count}+${t.test.count} ${t.name}`).join(', ')} (val+test; ${scenes.train.size}×${scenes.train.size}, K=${scenes.numClasses})${data.fromCache ? ' from cache' : ''}`,
  );
  const staged = await openStagedDir(options.out, { resume: !(hooks.fresh ?? false) });
  const closedDir = options.closedStateDir ?? join(staged.dir, STATE_CLOSED_DIR);
  const model = demoModel(scenes.numClasses, options.seed);
  try {
    const pretrained =
      options.initialization === 'pretrained'
        ? await loadPretrained(model, options.pretrainedDir)
        : undefined;
    const resumeKey = demoResumeKey(options, pretrained);
    const states: [string, ResumeKey][] = [[join(staged.dir, MODEL_DIR), resumeKey]];
    if (pretrained === undefined) states.unshift([closedDir, closedResumeKey(options)]);
    for (const [state, key] of states) {
      // the state's checkpoint.json holds the key in its meta (train()'s resumeKey)
      const manifest = await readRecord(join(state, 'checkpoint.json'));
      if (manifest === undefined) continue;
      const meta = (manifest as { meta?: { resumeKey?: unknown } } | null)?.meta;
      checkResumeKey(
        `--out ${options.out} holds an interrupted demo`,
        meta === undefined ? null : (meta.resumeKey ?? {}),
        key,
        'rerun with --fresh to start over',
      );
    }
    const closed =
      pretrained === undefined
        ? await trainClosedStage(model, scenes, options, closedDir, hooks)
        : NO_TRAINING;
    // stage 2: DenseHybrid fine-tuning on mixed-content batches (pasted negatives = label K)
    let startStep = 0;
    const result = closed.aborted
      ? closed
      : await train({
          model,
          steps: options.steps,
          checkpointEvery: 50,
          resume: true,
          resumeKey,
          ...(hooks.signal ? { signal: hooks.signal } : {}),
          ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
          // every training state is a checkpoint `densehybrid infer / eval --checkpoint` can load:
          // the model-file config (modelConfig) and the class names
          config: modelConfig(model),
          meta: stateMeta(scenes, options),
          data: (start) => {
            startStep = start;
            hooks.onTrainStart?.('DenseHybrid', start, options.steps);
            return mixedContentDemoBatches(scenes, start, options);
          },
          loss: demoLoss(options),
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
      startStep: closed.firstStep + startStep,
      imagesPerSecond:
        ((trainedSteps - closed.firstStep - startStep) * options.batchSize) /
        Math.max(trainSeconds, 1e-9),
    };
    if (result.aborted) {
      const total = (pretrained === undefined ? options.closedSteps : 0) + options.steps;
      hooks.log(
        `interrupted at step ${trainedSteps}/${total}: the training state is in ${staged.dir}; run the demo again to resume`,
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
    const files: string[] = ['report.md', 'metrics.json'];
    if (options.closedStateDir === undefined && pretrained === undefined)
      files.push(`${STATE_CLOSED_DIR}/ (closed-set stage: training state)`);
    files.push(
      `${MODEL_DIR}/ (the trained model and its training state: \`densehybrid infer --checkpoint <this folder>\`)`,
    );
    for (const track of data.tracks) {
      const val = await scoreSplit(model, track.val, K, sml);
      const test = await scoreSplit(model, track.test, K, sml);
      const metrics = evaluateTrack(track.name, val, test, K);
      tracks.push(metrics);
      if (!options.figures) continue;
      files.push(await writePrCurves(staged.dir, metrics));
      files.push(
        ...(await writeExamplePngs(
          staged.dir,
          scenes,
          metrics,
          track.test,
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
    const anomalies = Object.fromEntries(data.tracks.map((t) => [t.name, t.anomalies])) as Record<
      DemoTrackName,
      string
    >;
    const familyText = (fs: readonly DemoFamily[]): string =>
      fs.map((f) => `${f} (${DEMO_FAMILIES[f].description})`).join(', ');
    const initText =
      pretrained === undefined
        ? `${closed.step} closed-set steps (cross-entropy, Adam lr ${options.closedLearningRate}), then`
        : `initialised from the pretrained closed-set checkpoint (${pretrained.closedSteps} closed-set steps, digest ${pretrained.digest.slice(0, 12)}…), then`;
    const posteriorText =
      options.lossVariant === 'authors'
        ? `authors' loss variant, β = ${options.beta}, posterior weight ${+(options.posteriorWeightFactor * options.beta).toPrecision(6)}`
        : `the paper's eq. 15, β = ${options.beta}`;
    const setup = [
      `scenes: ${scenes.train.size}×${scenes.train.size}, inlier digits ${scenes.options.inlierDigits.join(', ')} (classes 1–${K - 1}, background 0), ${scenes.train.count} training scenes; negatives pasted while training: ${scenes.negatives.count} training items of ${familyText(data.negatives)} (label K = ${K})`,
      `tracks (anomalies; ${data.tracks[0]?.val.count} validation and ${data.tracks[0]?.test.count} test scenes each): ${data.tracks.map((t) => `${t.name} = ${t.anomalies}`).join('; ')}. The unseen families are never pasted in training.`,
      `model: ladderDenseNet tiny (${model.backbone.parameterCount()} parameters) + dataset-posterior head (BN-ReLU-Conv1×1)`,
      `training (as the paper: closed world first, then DenseHybrid fine-tuning): ${initText} ${result.step} DenseHybrid steps (${posteriorText}${options.lossTerms === 'all' ? '' : `, trained without the ${options.lossTerms === 'no-likelihood' ? 'likelihood' : 'posterior'} term`}; Adam lr ${options.learningRate}, backbone × ${options.backboneLearningRateFactor}), ${options.batchSize} images per step, cosine schedules to 1 %, seed ${options.seed}${base.startStep > 0 ? `, resumed at step ${base.startStep}` : ''}`,
      `metrics: pooled over all test pixels; AP step-wise, FPR at TPR ≥ 95 %, AUROC; open-mIoU over the K known classes (nanmean) with each score's threshold calibrated on the track's validation split at TPR 95 %`,
      `time: data ${seconds.data.toFixed(0)} s, training ${seconds.train.toFixed(0)} s (${base.imagesPerSecond.toFixed(1)} images/s, backend ${tf.getBackend()}), evaluation ${seconds.evaluate.toFixed(0)} s; ${seconds.cpu.toFixed(0)} CPU seconds in all (wall time above CPU time means other processes shared the cores)`,
    ];
    await writeFileAtomic(
      join(staged.dir, 'metrics.json'),
      JSON.stringify(
        {
          format: 'densehybrid/demo-metrics',
          version: 2,
          backend: tf.getBackend(),
          seconds,
          training: {
            batchSize: options.batchSize,
            imagesPerSecond: base.imagesPerSecond,
            closed: { steps: closed.step, history: closed.history },
            denseHybrid: { steps: result.step, history: result.history },
            ...(pretrained === undefined ? {} : { pretrained }),
          },
          options: { ...options, closedStateDir: undefined },
          tracks: tracks.map((t) => ({
            track: t.track,
            anomalies: anomalies[t.track],
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
    await writeReport(staged.dir, { tracks, anomalies, findings, setup, files });
    await staged.commit();
    return { ...base, completed: true, tracks, summary, findings, seconds };
  } finally {
    model.dispose();
  }
}
