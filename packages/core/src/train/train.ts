import { stat } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { denseHybridLoss } from '@densehybrid/losses';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { registerTrainingGradients } from '@densehybrid/tfjs-wasm-training';
import {
  describeResumeKeyDifferences,
  resumeKeyDifferences,
  type ResumeKey,
} from '@densehybrid/metrics-openiou/node';
import {
  disposeCheckpoint,
  loadCheckpoint,
  restoreVariables,
  saveCheckpoint,
  type Checkpoint,
} from '../checkpoint.js';
import { modelConfig } from '../model-file.js';
import { DEFAULT_ADAM_OPTIONS, GroupAdam, type AdamOptions } from './adam.js';
import type { DenseHybridModel } from './model.js';
import { cosineLearningRate } from './schedule.js';

/**
 * One mixed-content batch, as `@densehybrid/data-mixing`'s `SegmentationBatch`: images
 * `[N,H,W,3]` in [0, 1], labels `[N,H,W]` (`0..K-1`, K = pasted negative, 255 = ignore).
 */
export interface TrainingBatch {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
}

/** What a training loss receives: outputs at network resolution and the labels. */
export interface TrainingLossInputs {
  readonly logits: tf.Tensor4D;
  readonly posteriorLogits: tf.Tensor4D;
  readonly labels: tf.Tensor3D;
}

/**
 * A loss for {@link train}: `total` is minimised, every other scalar is reported as a loss term
 * (e.g. `denseHybridLoss`' classification / likelihood / posterior). Runs inside the gradient
 * tape; all returned scalars are disposed by the loop.
 */
export type TrainingLoss = (inputs: TrainingLossInputs) => {
  readonly total: tf.Scalar;
} & Readonly<Record<string, tf.Scalar>>;

/** Progress of {@link train}, reported after every `progressEvery` steps. */
export interface TrainProgress {
  /** Steps completed (1-based after the first step). */
  readonly step: number;
  readonly totalSteps: number;
  /** `total` and every other term of the loss at this step. */
  readonly loss: Readonly<Record<string, number>>;
  /** Base learning rate used at this step (the backbone gets it × `backboneLearningRateFactor`). */
  readonly learningRate: number;
  /** Training throughput of this run so far. */
  readonly imagesPerSecond: number;
  /** Seconds since this run (not the resumed one) started. */
  readonly elapsedSeconds: number;
  /** Estimated seconds to go. */
  readonly etaSeconds: number;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Backbone + dataset-posterior head (see `createDenseHybridModel`). */
  readonly model: DenseHybridModel;
  /**
   * The batches, starting at batch `startStep` (0, or the resumed step): a resumed run must see
   * the same batches as an uninterrupted one, so the stream is a function of the step — e.g.
   * `(s) => digitSceneBatches(scenes, s, { seed })`. It holds the data RNG's state.
   */
  readonly data: (startStep: number) => AsyncIterable<TrainingBatch> | Iterable<TrainingBatch>;
  /** Total steps (the cosine schedule's length). */
  readonly steps: number;
  /**
   * The loss.
   * @default DenseHybrid (`denseHybridLoss` with its defaults: authors' variant, β = 0.03)
   */
  readonly loss?: TrainingLoss;
  /**
   * Learning rate at step 0 (head; the backbone gets it × `backboneLearningRateFactor`).
   * @default 1e-5 (the paper's LDN fine-tuning rate; training from scratch wants ~1e-3)
   */
  readonly learningRate?: number;
  /** Learning rate at the last step (cosine decay). @default learningRate / 100 */
  readonly minLearningRate?: number;
  /** Backbone learning rate = learning rate × this. @default 0.25 (the authors' lr/4) */
  readonly backboneLearningRateFactor?: number;
  /** Adam's β1, β2, ε. @default { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } */
  readonly adam?: AdamOptions;
  /**
   * Training-state **directory**, in this package's checkpoint format (`saveCheckpoint`;
   * written atomically, recovered by `loadCheckpoint`):
   * - `variables`: every model weight under `model.variables`' names (`backbone.…`, `head.…`,
   *   batch-norm statistics included);
   * - `optimizer`: `{ name: 'adam', step, tensors: <var>/m, <var>/v (Adam's moments, e.g.
   *   `backbone.conv0.kernel/m`), scalars: { beta1, beta2, epsilon } }`;
   * - `config`: {@link TrainOptions.config};
   * - `meta`: {@link TrainOptions.meta} plus `step`, `totalSteps`, `learningRate`,
   *   `minLearningRate`, `backboneLearningRateFactor` and `history` (loss terms per step).
   *
   * A finished state is a model file: `loadModel(checkpointPath)` scores with the trained model
   * (with the default `config` and `meta.classNames`).
   * @default none (nothing is written)
   */
  readonly checkpointPath?: string;
  /** Write the training state every this many steps (and at the end, and on abort). @default 100 */
  readonly checkpointEvery?: number;
  /** Continue from `checkpointPath` when it exists. @default false */
  readonly resume?: boolean;
  /**
   * What else determines the run (the data selection, seed, batch size, crop size, …), as JSON
   * fields: stored in the state's `meta.resumeKey` and compared on resume, together with the
   * loop's own settings (`steps`, `learningRate`, `minLearningRate`,
   * `backboneLearningRateFactor`, Adam's `beta1`, `beta2`, `epsilon`). A state that differs in any
   * of them is refused with `INVALID_OPTION` naming every differing field, before anything is
   * restored.
   * @default {}
   */
  readonly resumeKey?: ResumeKey;
  /** Stops after the current step: writes the state and returns with `aborted: true`. */
  readonly signal?: AbortSignal;
  /** Receives {@link TrainProgress}. @default none */
  readonly onProgress?: (progress: TrainProgress) => void;
  /** Report progress every this many steps. @default 1 */
  readonly progressEvery?: number;
  /**
   * JSON stored as the checkpoint's `config` (what rebuilds the architecture).
   * @default `modelConfig(model)`: `{ format: 'densehybrid/model', version: 1, backbone:
   *   model.backbone.config, head: { channels: model.backbone.preLogitChannels } }`
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * Extra JSON stored in the checkpoint's `meta` (e.g. class names, data options); the loop's
   * own keys (`step`, `totalSteps`, `history`, …) take precedence.
   * @default {}
   */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** `optimizer.name` of the state {@link train} writes. */
const OPTIMIZER_NAME = 'adam';

/**
 * Reads the training state at `dir`; `undefined` when there is none (neither `dir` nor a copy
 * an interrupted replace left aside).
 */
async function readState(dir: string): Promise<Checkpoint | undefined> {
  try {
    return await loadCheckpoint(dir);
  } catch (e) {
    const missing = await stat(dir).then(
      () => false,
      () => true,
    );
    if (missing && DenseHybridError.is(e) && e.code === 'IO') return undefined;
    throw e;
  }
}

/** Default options of {@link train}. */
export const DEFAULT_TRAIN_OPTIONS = {
  learningRate: 1e-5,
  backboneLearningRateFactor: 0.25,
  checkpointEvery: 100,
  resume: false,
  progressEvery: 1,
  adam: DEFAULT_ADAM_OPTIONS,
} as const satisfies Partial<TrainOptions>;

/** One step's loss terms, as recorded in {@link TrainResult.history}. */
export interface TrainHistoryEntry {
  readonly step: number;
  readonly loss: Readonly<Record<string, number>>;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Steps completed in total (including resumed ones). */
  readonly step: number;
  /** The step this run started at (0, or where it resumed). */
  readonly startStep: number;
  /** True when the signal stopped training before `steps`. */
  readonly aborted: boolean;
  /** Loss terms of every completed step (resumed runs include the earlier steps). */
  readonly history: readonly TrainHistoryEntry[];
  /** Throughput of this run. */
  readonly imagesPerSecond: number;
  /** Wall time of this run. */
  readonly seconds: number;
}

function badOption(name: string, want: string, got: unknown): never {
  throw new DenseHybridError(
    'INVALID_OPTION',
    `train: expected options.${name} to be ${want}, got ${describeValue(got)}`,
  );
}

const defaultLoss: TrainingLoss = (inputs) => {
  const r = denseHybridLoss(inputs);
  return {
    total: r.total,
    classification: r.classification,
    likelihood: r.likelihood,
    posterior: r.posterior,
  };
};

/**
 * Trains a DenseHybrid model (backbone + dataset-posterior head) on mixed-content batches with
 * Adam, the paper's cosine schedule and per-group learning rates (backbone × ¼). Every
 * `checkpointEvery` steps, at the end and on abort, the full training state (all weights
 * including batch-norm statistics, Adam's moments and step count, the loss history) is written
 * atomically to the directory `checkpointPath` in the project's checkpoint format
 * (`saveCheckpoint`; see {@link TrainOptions.checkpointPath}), so a finished state is also the
 * trained model's file (`loadModel`); `resume: true` continues from it bit-for-bit (given a
 * deterministic backend and a data stream that is a function of the step). Tensors are read
 * with `await data()` only; no tensor outlives its step.
 *
 * @param options see {@link TrainOptions}
 * @returns a {@link TrainResult}
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `INVALID_INPUT` for a malformed
 *   batch, `NON_FINITE` when the loss becomes NaN/∞, `MODEL_LOAD` / `IO` for checkpoint problems
 * @example
 * ```ts
 * const result = await train({
 *   model,
 *   data: (start) => digitSceneBatches(scenes, start, { batchSize: 16 }),
 *   steps: 300,
 *   learningRate: 2e-3,
 *   checkpointPath: 'run/state', // a checkpoint directory
 *   resume: true,
 *   onProgress: (p) => console.log(p.step, p.loss.total),
 * });
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const run = resolveTrainOptions(options);
  // stock gradients (tfjs-core's Node build registers none) and the dilation-aware conv gradients
  registerTrainingGradients();
  if (tf.getBackend() === 'wasm' && tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined)
    throw new DenseHybridError(
      'BACKEND',
      'train: expected the wasm training kernels to be registered (registerWasmTrainingKernels() from @densehybrid/tfjs-wasm-training or initBackend()), got stock tfjs-backend-wasm',
    );

  const { model, steps } = run;
  const groups = model.trainableGroups();
  const adam = new GroupAdam(
    [
      { name: 'backbone', variables: groups.backbone, learningRateFactor: run.backboneFactor },
      { name: 'head', variables: groups.head, learningRateFactor: 1 },
    ],
    run.adamOptions,
  );
  const state: TrainingState = {
    adam,
    varList: [...groups.backbone.values(), ...groups.head.values()],
    adamState: adam.stateVariables(),
    history: [],
    startStep: 0,
    step: 0,
    images: 0,
    t0: 0,
  };
  let iterator: AsyncIterator<TrainingBatch> | Iterator<TrainingBatch> | undefined;
  try {
    if (run.resume && run.path) await restoreState(run, state, run.path);
    state.step = state.startStep;
    const { data } = run;
    const source = data(state.startStep);
    iterator =
      Symbol.asyncIterator in source
        ? (source as AsyncIterable<TrainingBatch>)[Symbol.asyncIterator]()
        : (source as Iterable<TrainingBatch>)[Symbol.iterator]();
    state.t0 = performance.now();
    let aborted = false;
    while (state.step < steps) {
      if (run.signal?.aborted) {
        aborted = true;
        break;
      }
      const next = await iterator.next();
      if (next.done) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `train: expected options.data to yield ${steps - state.startStep} batches, got ${state.step - state.startStep}`,
        );
      }
      await trainStep(run, state, next.value);
      const step = state.step;
      if (run.checkpointEvery > 0 && step % run.checkpointEvery === 0 && step < steps)
        await saveState(run, state);
    }
    if (state.step > state.startStep || aborted) await saveState(run, state);
    const seconds = (performance.now() - state.t0) / 1000;
    return {
      step: state.step,
      startStep: state.startStep,
      aborted,
      history: state.history,
      imagesPerSecond: state.images / Math.max(seconds, 1e-9),
      seconds,
    };
  } finally {
    await iterator?.return?.();
    adam.dispose();
  }
}

/** {@link TrainOptions} checked, with every default filled in. */
interface TrainRun {
  readonly model: DenseHybridModel;
  readonly data: TrainOptions['data'];
  readonly steps: number;
  readonly loss: TrainingLoss;
  readonly lr0: number;
  readonly lrMin: number;
  readonly backboneFactor: number;
  readonly adamOptions: Required<AdamOptions>;
  readonly checkpointEvery: number;
  readonly progressEvery: number;
  readonly resume: boolean;
  readonly path: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: TrainOptions['onProgress'];
  readonly config: Readonly<Record<string, unknown>> | undefined;
  readonly meta: Readonly<Record<string, unknown>> | undefined;
  readonly resumeKey: ResumeKey;
}

/** What the loop carries from step to step. */
interface TrainingState {
  readonly adam: GroupAdam;
  /** Trainable variables, backbone then head (`tf.variableGrads`' list). */
  readonly varList: readonly tf.Variable[];
  /** Adam's moments by checkpoint name (`<var>/m`, `<var>/v`). */
  readonly adamState: ReadonlyMap<string, tf.Variable>;
  readonly history: TrainHistoryEntry[];
  /** The step this run started at (0, or the resumed one). */
  startStep: number;
  /** Steps completed. */
  step: number;
  /** Images trained on by this run. */
  images: number;
  /** `performance.now()` when this run's first batch was requested. */
  t0: number;
}

/** Checks {@link TrainOptions} (in the order of their documentation) and fills in defaults. */
function resolveTrainOptions(options: TrainOptions): TrainRun {
  if (options === null || typeof options !== 'object') badOption('', 'an object', options);
  const { model, data, steps } = options;
  if (
    !model ||
    typeof model.forward !== 'function' ||
    typeof model.trainableGroups !== 'function'
  ) {
    badOption('model', 'a DenseHybridModel (createDenseHybridModel)', model);
  }
  if (typeof data !== 'function') badOption('data', 'a function (startStep) => batches', data);
  if (!Number.isInteger(steps) || steps < 1) badOption('steps', 'an integer ≥ 1', steps);
  const lr0 = options.learningRate ?? DEFAULT_TRAIN_OPTIONS.learningRate;
  if (!(lr0 > 0) || !Number.isFinite(lr0)) badOption('learningRate', 'a finite number > 0', lr0);
  const lrMin = options.minLearningRate ?? lr0 / 100;
  if (!(lrMin >= 0) || lrMin > lr0)
    badOption('minLearningRate', `in [0, learningRate = ${lr0}]`, lrMin);
  const backboneFactor =
    options.backboneLearningRateFactor ?? DEFAULT_TRAIN_OPTIONS.backboneLearningRateFactor;
  if (!(backboneFactor >= 0) || !Number.isFinite(backboneFactor))
    badOption('backboneLearningRateFactor', 'a finite number ≥ 0', backboneFactor);
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_TRAIN_OPTIONS.checkpointEvery;
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0)
    badOption(
      'checkpointEvery',
      'an integer ≥ 0 (0: only at the end and on abort)',
      checkpointEvery,
    );
  const progressEvery = options.progressEvery ?? DEFAULT_TRAIN_OPTIONS.progressEvery;
  if (!Number.isInteger(progressEvery) || progressEvery < 1)
    badOption('progressEvery', 'an integer ≥ 1', progressEvery);
  const resume = options.resume ?? DEFAULT_TRAIN_OPTIONS.resume;
  const path = options.checkpointPath;
  if (resume && !path) badOption('checkpointPath', 'a directory path when resume is true', path);
  if (path !== undefined && (typeof path !== 'string' || path.length === 0))
    badOption('checkpointPath', 'a directory path', path);
  return {
    model,
    data,
    steps,
    loss: options.loss ?? defaultLoss,
    lr0,
    lrMin,
    backboneFactor,
    adamOptions: { ...DEFAULT_ADAM_OPTIONS, ...(options.adam ?? {}) },
    checkpointEvery,
    progressEvery,
    resume,
    path,
    signal: options.signal,
    onProgress: options.onProgress,
    config: options.config,
    meta: options.meta,
    resumeKey: options.resumeKey ?? {},
  };
}

/** The loop's settings a resumed state must share (the learning-rate schedule and Adam). */
function loopResumeKey(run: TrainRun): ResumeKey {
  return {
    steps: run.steps,
    learningRate: run.lr0,
    minLearningRate: run.lrMin,
    backboneLearningRateFactor: run.backboneFactor,
    beta1: run.adamOptions.beta1,
    beta2: run.adamOptions.beta2,
    epsilon: run.adamOptions.epsilon,
  };
}

/**
 * Refuses a state written by a run with other settings: the loop's (from the state's meta and
 * optimizer scalars) and {@link TrainOptions.resumeKey} (from `meta.resumeKey`).
 * @throws DenseHybridError `INVALID_OPTION` naming every differing field
 */
function checkResumable(run: TrainRun, ckpt: Checkpoint): void {
  const meta = ckpt.meta as Record<string, unknown>;
  const scalars = ckpt.optimizer?.scalars ?? {};
  const loop = resumeKeyDifferences(
    {
      steps: meta['totalSteps'],
      learningRate: meta['learningRate'],
      minLearningRate: meta['minLearningRate'],
      backboneLearningRateFactor: meta['backboneLearningRateFactor'],
      beta1: scalars['beta1'],
      beta2: scalars['beta2'],
      epsilon: scalars['epsilon'],
    },
    loopResumeKey(run),
  );
  const named = new Set(loop.map((d) => d.field));
  const extra = resumeKeyDifferences(meta['resumeKey'] ?? {}, run.resumeKey).filter(
    (d) => !named.has(d.field),
  );
  const differences = [...loop, ...extra];
  if (differences.length > 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `train: expected the options of the run whose state is in ${ckpt.dir} (a resumed run continues bit-for-bit only with the same ones), got different ones (stored vs now: ${describeResumeKeyDifferences(differences)}); resume with that run's options or start a new one`,
    );
  }
}

/**
 * Resume: restores weights, Adam's moments and step count and the loss history from the state at
 * `path`, if there is one (a fresh run otherwise).
 * @throws DenseHybridError `INVALID_OPTION` when the state comes from a run with other settings
 *   (see {@link TrainOptions.resumeKey}), `MODEL_LOAD` when the state does not fit the model
 */
async function restoreState(run: TrainRun, state: TrainingState, path: string): Promise<void> {
  const ckpt = await readState(path);
  if (!ckpt) return;
  try {
    const meta = ckpt.meta as { history?: TrainHistoryEntry[] };
    checkResumable(run, ckpt);
    const opt = ckpt.optimizer;
    if (opt?.name !== OPTIMIZER_NAME) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `train: expected checkpoint ${ckpt.dir} to hold "${OPTIMIZER_NAME}" optimizer state, got ${opt ? JSON.stringify(opt.name) : 'none'}`,
      );
    }
    try {
      // one call: every name and shape is checked before anything is assigned (Adam's
      // `<var>/m`, `<var>/v` cannot collide with weight names)
      restoreVariables(
        new Map([...run.model.variables, ...state.adamState]),
        new Map([...ckpt.variables, ...opt.tensors.map((t) => [t.name, t.tensor] as const)]),
      );
    } catch (e) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `train: expected checkpoint ${ckpt.dir} to fit the model, got a mismatch: ${(e as Error).message}`,
        { cause: e },
      );
    }
    state.startStep = opt.step;
    state.adam.iterations = state.startStep;
    state.history.push(...(meta.history ?? []).filter((h) => h.step <= state.startStep));
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/** Checkpointing: writes the training state at `state.step` to `run.path` (when given). */
async function saveState(run: TrainRun, state: TrainingState): Promise<void> {
  if (!run.path) return;
  const step = state.step;
  await saveCheckpoint(run.path, {
    config: run.config ?? modelConfig(run.model),
    variables: run.model.variables,
    optimizer: {
      name: OPTIMIZER_NAME,
      step,
      tensors: [...state.adamState].map(([name, tensor]) => ({ name, tensor })),
      scalars: { ...run.adamOptions },
    },
    meta: {
      ...(run.meta ?? {}),
      step,
      totalSteps: run.steps,
      learningRate: run.lr0,
      minLearningRate: run.lrMin,
      backboneLearningRateFactor: run.backboneFactor,
      resumeKey: run.resumeKey,
      history: state.history,
    },
  });
}

/**
 * The step: forward and backward pass of one batch, Adam's update at the scheduled learning rate,
 * the loss terms read back (with `await data()`), `state.step` advanced and progress reported.
 * Every tensor of the step is disposed before it returns.
 * @throws DenseHybridError `INVALID_INPUT` / `SHAPE_MISMATCH` for a malformed batch, `NON_FINITE`
 *   when the loss is NaN/∞
 */
async function trainStep(run: TrainRun, state: TrainingState, batch: TrainingBatch): Promise<void> {
  const { model, steps, loss, onProgress } = run;
  checkBatch(batch, state.step);
  const lr = cosineLearningRate(state.step, steps, run.lr0, run.lrMin);
  const termTensors: Record<string, tf.Scalar> = {};
  const xs = tf.tensor4d(batch.images, [batch.batchSize, batch.height, batch.width, 3]);
  const ys = tf.tensor3d(batch.labels, [batch.batchSize, batch.height, batch.width], 'int32');
  let value: tf.Scalar | undefined;
  let grads: tf.NamedTensorMap = {};
  try {
    const r = tf.variableGrads(() => {
      const out = model.forward(xs, { training: true });
      const terms = loss({
        logits: out.logits,
        posteriorLogits: out.posteriorLogits,
        labels: ys,
      });
      for (const [k, t] of Object.entries(terms)) if (k !== 'total') termTensors[k] = tf.keep(t);
      return terms.total;
    }, state.varList as tf.Variable[]);
    value = r.value;
    grads = r.grads;
    state.adam.step(grads, lr);
    const names = Object.keys(termTensors);
    const read = await Promise.all([value.data(), ...names.map((k) => termTensors[k]!.data())]);
    const lossValues: Record<string, number> = { total: read[0]![0]! };
    names.forEach((k, i) => (lossValues[k] = read[i + 1]![0]!));
    if (!Number.isFinite(lossValues['total'])) {
      throw new DenseHybridError(
        'NON_FINITE',
        `train: expected a finite loss, got ${lossValues['total']} at step ${state.step + 1} (lower the learning rate)`,
      );
    }
    const step = ++state.step;
    state.images += batch.batchSize;
    state.history.push({ step, loss: lossValues });
    const elapsed = (performance.now() - state.t0) / 1000;
    if (onProgress && (step % run.progressEvery === 0 || step === steps)) {
      const perStep = elapsed / (step - state.startStep);
      onProgress({
        step,
        totalSteps: steps,
        loss: lossValues,
        learningRate: lr,
        imagesPerSecond: state.images / Math.max(elapsed, 1e-9),
        elapsedSeconds: elapsed,
        etaSeconds: perStep * (steps - step),
      });
    }
  } finally {
    xs.dispose();
    ys.dispose();
    value?.dispose();
    tf.dispose(Object.values(grads));
    tf.dispose(Object.values(termTensors));
  }
}

function checkBatch(batch: TrainingBatch, step: number): void {
  const ok =
    batch !== null &&
    typeof batch === 'object' &&
    batch.images instanceof Float32Array &&
    batch.labels instanceof Int32Array &&
    Number.isInteger(batch.batchSize) &&
    batch.batchSize > 0 &&
    Number.isInteger(batch.height) &&
    batch.height > 0 &&
    Number.isInteger(batch.width) &&
    batch.width > 0;
  if (!ok) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `train: expected batch ${step} to be { images: Float32Array, labels: Int32Array, batchSize, height, width }, got ${describeValue(batch)}`,
    );
  }
  const px = batch.batchSize * batch.height * batch.width;
  if (batch.images.length !== px * 3 || batch.labels.length !== px) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `train: expected batch ${step} to have ${px * 3} image values and ${px} labels (N·H·W = ${px}), got ${batch.images.length} and ${batch.labels.length}`,
    );
  }
}
