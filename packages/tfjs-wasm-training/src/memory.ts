/**
 * The wasm heap guard: predicts the peak memory of a training step from two cheap probes and
 * fails with `OUT_OF_MEMORY` (naming the batch and crop that fit) before a step that would
 * overflow the 4 GiB wasm heap, instead of a raw "memory access out of bounds".
 */
import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

/** The largest heap the tfjs 4.22 wasm build can grow to (wasm32: 4 GiB − 64 KiB). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** One training-step geometry: samples per step and crop size in pixels. */
export interface StepGeometry {
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
}

/**
 * A linear model of a step's peak tensor memory, `fixedBytes + bytesPerPixel · batch · H · W`
 * (weights, optimizer state and everything else that does not scale, plus activations and their
 * gradients, which scale with the pixels of the batch).
 */
export interface StepMemoryModel {
  readonly fixedBytes: number;
  readonly bytesPerPixel: number;
}

/** Options of {@link checkStepMemory} and {@link estimateStepMemory}. */
export interface StepMemoryOptions {
  /**
   * Bytes a step may use at its peak. The default leaves 20 % of the wasm heap for what tensor
   * accounting does not see (XNNPACK's packed weights and scratch, fragmentation).
   * @default 0.8 · WASM_HEAP_MAX_BYTES on the wasm backend, Infinity elsewhere
   */
  readonly limitBytes?: number;
  /**
   * Crops (square, pixels) of the two probe steps {@link estimateStepMemory} runs, batch 1.
   * Use sizes your network accepts (e.g. multiples of its output stride).
   * @default [64, 128]
   */
  readonly probeCrops?: readonly [number, number];
  /** Name used in error messages (the caller's function). @default 'checkStepMemory' */
  readonly caller?: string;
}

/** Default options of {@link checkStepMemory} / {@link estimateStepMemory}. */
export const DEFAULT_STEP_MEMORY_OPTIONS = {
  probeCrops: [64, 128],
  caller: 'checkStepMemory',
} as const satisfies Partial<StepMemoryOptions>;

/** What {@link checkStepMemory} found. */
export interface StepMemoryResult {
  /** Predicted peak bytes of the requested step. */
  readonly predictedBytes: number;
  /** The limit it was checked against. */
  readonly limitBytes: number;
  /** The largest batch that fits at the requested crop (0 when not even one sample does). */
  readonly maxBatchSize: number;
  /** The largest square-ish crop (same aspect ratio) that fits at the requested batch size. */
  readonly maxCrop: { readonly height: number; readonly width: number };
}

function positiveInt(caller: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${caller}: expected ${name} to be an integer >= 1, got ${describeValue(v)}`,
    );
}

function defaultLimit(): number {
  return tf.getBackend() === 'wasm' ? 0.8 * WASM_HEAP_MAX_BYTES : Infinity;
}

const GiB = 1024 ** 3;
const fmt = (bytes: number): string => `${(bytes / GiB).toFixed(2)} GiB`;

/**
 * Predicts a step's peak memory from `model` and checks it against the heap limit.
 *
 * @param model from {@link estimateStepMemory} (or your own measurements)
 * @param step the batch size and crop the training loop is about to run
 * @param options see {@link StepMemoryOptions}
 * @returns a {@link StepMemoryResult} (also when it fits, so callers can log the headroom)
 * @throws DenseHybridError `OUT_OF_MEMORY` when the step would not fit: the message names the
 *   largest batch at this crop and the largest crop at this batch that fit;
 *   `INVALID_INPUT` for a non-integer or non-positive geometry
 * @example
 * ```ts
 * import { checkStepMemory } from '@densehybrid/tfjs-wasm-training';
 * const model = { fixedBytes: 200e6, bytesPerPixel: 9000 };
 * checkStepMemory(model, { batchSize: 8, height: 512, width: 1024 });
 * // throws OUT_OF_MEMORY: … batch 2 at 512×1024 or batch 8 at 256×512 fits
 * ```
 */
export function checkStepMemory(
  model: StepMemoryModel,
  step: StepGeometry,
  options: StepMemoryOptions = {},
): StepMemoryResult {
  const caller = options.caller ?? DEFAULT_STEP_MEMORY_OPTIONS.caller;
  positiveInt(caller, 'batchSize', step.batchSize);
  positiveInt(caller, 'height', step.height);
  positiveInt(caller, 'width', step.width);
  if (!(model.fixedBytes >= 0) || !(model.bytesPerPixel >= 0))
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${caller}: expected a memory model with fixedBytes >= 0 and bytesPerPixel >= 0, got ${describeValue(model)}`,
    );
  const limitBytes = options.limitBytes ?? defaultLimit();
  const pixels = step.height * step.width;
  const predictedBytes = model.fixedBytes + model.bytesPerPixel * step.batchSize * pixels;
  const budget = limitBytes - model.fixedBytes;
  const perSample = model.bytesPerPixel * pixels;
  const maxBatchSize =
    perSample === 0 ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.floor(budget / perSample));
  // Largest crop with the same aspect ratio: scale both sides by √(budget / bytes at this crop).
  const scale =
    model.bytesPerPixel === 0
      ? 1
      : Math.sqrt(Math.max(0, budget) / (model.bytesPerPixel * step.batchSize * pixels));
  const maxCrop = {
    height: Math.min(step.height, Math.floor(step.height * scale)),
    width: Math.min(step.width, Math.floor(step.width * scale)),
  };
  const result = { predictedBytes, limitBytes, maxBatchSize, maxCrop };
  if (predictedBytes > limitBytes) {
    const fits: string[] = [];
    if (maxBatchSize >= 1) fits.push(`batch ${maxBatchSize} at ${step.height}×${step.width}`);
    if (maxCrop.height >= 1 && maxCrop.width >= 1)
      fits.push(`batch ${step.batchSize} at ${maxCrop.height}×${maxCrop.width}`);
    throw new DenseHybridError(
      'OUT_OF_MEMORY',
      `${caller}: expected a training step of batch ${step.batchSize} at ${step.height}×${step.width} to fit ` +
        `${fmt(limitBytes)} (${tf.getBackend()} backend), got a predicted peak of ${fmt(predictedBytes)}; ` +
        (fits.length > 0
          ? `${fits.join(' or ')} fits (or split the batch into micro-batches of ${Math.max(1, maxBatchSize)})`
          : 'not even the fixed part (weights, optimizer state) fits'),
    );
  }
  return result;
}

/**
 * Measures the peak tensor memory of two small probe steps (batch 1, square crops
 * `options.probeCrops`) with `tf.profile` and fits {@link StepMemoryModel}. The probes run real
 * training steps (they update the weights): run it before training, or on a throw-away copy.
 *
 * @param runStep runs one training step at the given geometry and disposes what it creates
 * @param options see {@link StepMemoryOptions}
 * @returns the fitted {@link StepMemoryModel}
 * @throws DenseHybridError `INVALID_OPTION` for probe crops that are not two different sizes
 * @example
 * ```ts
 * import { estimateStepMemory, checkStepMemory } from '@densehybrid/tfjs-wasm-training';
 * const model = await estimateStepMemory((g) => trainer.step(makeBatch(g)));
 * checkStepMemory(model, { batchSize: 16, height: 768, width: 768 }); // throws before it overflows
 * ```
 */
export async function estimateStepMemory(
  runStep: (step: StepGeometry) => unknown,
  options: StepMemoryOptions = {},
): Promise<StepMemoryModel> {
  const [a, b] = options.probeCrops ?? DEFAULT_STEP_MEMORY_OPTIONS.probeCrops;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b < 1 || a === b)
    throw new DenseHybridError(
      'INVALID_OPTION',
      `estimateStepMemory: expected options.probeCrops to be two different positive integers, got ${describeValue(options.probeCrops)}`,
    );
  const peak = async (s: number): Promise<number> => {
    const info = await tf.profile(async () => {
      await runStep({ batchSize: 1, height: s, width: s });
    });
    return info.peakBytes;
  };
  await peak(a); // warm-up: first-call allocations (optimizer slots) are fixed, not per pixel
  const pa = await peak(a);
  const pb = await peak(b);
  const bytesPerPixel = Math.max(0, (pb - pa) / (b * b - a * a));
  return { fixedBytes: Math.max(0, pa - bytesPerPixel * a * a), bytesPerPixel };
}

/**
 * Splits a batch into micro-batches of at most `maxBatchSize` samples (for gradient
 * accumulation when {@link checkStepMemory} says the whole batch does not fit).
 *
 * @returns the micro-batch sizes, summing to `batchSize`, as equal as possible
 * @throws DenseHybridError `INVALID_INPUT` for non-positive or non-integer sizes
 * @example
 * ```ts
 * import { microBatchSizes } from '@densehybrid/tfjs-wasm-training';
 * microBatchSizes(10, 4); // [4, 3, 3]
 * ```
 */
export function microBatchSizes(batchSize: number, maxBatchSize: number): number[] {
  positiveInt('microBatchSizes', 'batchSize', batchSize);
  positiveInt('microBatchSizes', 'maxBatchSize', maxBatchSize);
  const parts = Math.ceil(batchSize / maxBatchSize);
  const base = Math.floor(batchSize / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < batchSize % parts ? 1 : 0));
}

/**
 * Runs `fn` and turns the raw failures of an exhausted wasm heap ("memory access out of
 * bounds", "Cannot enlarge memory", "Array buffer allocation failed") into `DenseHybridError('OUT_OF_MEMORY')`, with `step` and `model`
 * (when given) in the message. Other errors pass through unchanged.
 *
 * @param fn the step to run
 * @param step its geometry, for the message
 * @param model a memory model, to name what fits
 * @returns what `fn` returns
 * @throws DenseHybridError `OUT_OF_MEMORY` as described
 * @example
 * ```ts
 * import { guardWasmMemory } from '@densehybrid/tfjs-wasm-training';
 * const loss = await guardWasmMemory(() => trainer.step(batch), { batchSize: 8, height: 512, width: 512 });
 * ```
 */
export async function guardWasmMemory<T>(
  fn: () => T | Promise<T>,
  step?: StepGeometry,
  model?: StepMemoryModel,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!isOutOfMemory(e)) throw e;
    let fits = '';
    if (step && model) {
      try {
        checkStepMemory(model, step, {
          limitBytes: 0.8 * WASM_HEAP_MAX_BYTES,
          caller: 'guardWasmMemory',
        });
      } catch (inner) {
        if (DenseHybridError.is(inner)) fits = `; ${inner.message.split('; ').slice(1).join('; ')}`;
      }
    }
    const what = step ? `batch ${step.batchSize} at ${step.height}×${step.width}` : 'the step';
    throw new DenseHybridError(
      'OUT_OF_MEMORY',
      `guardWasmMemory: expected ${what} to fit the ${tf.getBackend()} backend's memory, got: ${(e as Error).message.split('\n')[0]}${fits || '; use a smaller batch or crop (estimateStepMemory + checkStepMemory name one that fits)'}`,
      { cause: e },
    );
  }
}

/**
 * Whether `e` is how an exhausted wasm heap surfaces in tfjs-backend-wasm: a raw
 * `memory access out of bounds` trap, emscripten's `Aborted()` from a failed allocation,
 * `Cannot enlarge memory`, or a JS allocation failure. After one of these the wasm heap is
 * not safe to reuse in the same process.
 *
 * @example
 * ```ts
 * import { isOutOfMemory } from '@densehybrid/tfjs-wasm-training';
 * isOutOfMemory(new Error('Aborted(). Build with -sASSERTIONS for more info.')); // true
 * ```
 */
export function isOutOfMemory(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    /memory access out of bounds|Cannot enlarge memory|Array buffer allocation failed|out of memory|Aborted\((OOM)?\)/i.test(
      e.message,
    ) ||
    (e instanceof RangeError && /allocation failed|out of memory/i.test(e.message))
  );
}
