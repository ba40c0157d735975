import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type {
  DetectOptions,
  DetectResult,
  DetectorImage,
  ModelConfig,
  ModelMeta,
  ScoreName,
  ScoreResult,
} from '@densehybrid/core';
import type { OnnxContract } from './contract.js';
import { readOnnxMetadata } from './metadata.js';

/**
 * The detector on ONNX Runtime, independent of which ONNX Runtime: this module imports neither
 * onnxruntime-node nor onnxruntime-web nor tfjs (it is `@densehybrid/onnx/runtime`, safe to
 * bundle for a browser); pass the runtime's module to {@link createOnnxDetector}.
 */

/** An ONNX Runtime tensor as far as this package reads it. */
export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
  dispose?(): void;
}

/** An ONNX Runtime inference session as far as this package uses it. */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Readonly<Record<string, OrtTensorLike>>,
    fetches?: readonly string[],
  ): Promise<Readonly<Record<string, OrtTensorLike>>>;
  release(): Promise<void>;
}

/**
 * The parts of an ONNX Runtime module (`import * as ort from 'onnxruntime-node'` or
 * `'onnxruntime-web'`) this package uses.
 */
export interface OrtModuleLike {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSessionLike>;
  };
  readonly Tensor: new (
    type: 'float32',
    data: Float32Array,
    dims: readonly number[],
  ) => OrtTensorLike;
}

/** Options of {@link createOnnxDetector} (and `loadOnnxDetector`). */
export interface OnnxDetectorOptions {
  /**
   * Execution providers to try, in order; the first whose session starts is used (each one falls
   * back to the CPU for operators it lacks). `webgpu` needs a GPU adapter (Node: bundled with
   * onnxruntime-node on Windows, macOS and Linux; browsers: onnxruntime-web's `webgpu` build).
   * @default ['cpu']
   */
  readonly executionProviders?: readonly string[];
  /**
   * Threads of the CPU execution provider (ONNX Runtime's `intraOpNumThreads`, Node only).
   * @default ONNX Runtime's default (one per physical core)
   */
  readonly threads?: number;
  /** Further ONNX Runtime session options (merged last). @default {} */
  readonly sessionOptions?: Readonly<Record<string, unknown>>;
  /** Names the model in messages (a path). @default 'the given bytes' */
  readonly source?: string;
}

/** Default options of {@link createOnnxDetector}. */
export const DEFAULT_ONNX_DETECTOR_OPTIONS = {
  executionProviders: ['cpu'],
  sessionOptions: {},
  source: 'the given bytes',
} as const satisfies OnnxDetectorOptions;

/** An execution provider that did not start, and why. */
export interface ExecutionProviderFailure {
  readonly executionProvider: string;
  readonly reason: string;
}

/**
 * An exported DenseHybrid model on ONNX Runtime, with the `detect()` / `score()` of core's
 * `Detector` (same arguments, same plain-array results, same errors).
 *
 * @example
 * ```ts
 * const detector = await loadOnnxDetector('model.onnx');
 * const { scores, closed } = await detector.detect(image); // scores.hybrid: Float32Array
 * detector.dispose();
 * ```
 */
export interface OnnxDetector {
  /** Known classes K. */
  readonly numClasses: number;
  /** K class names. */
  readonly classNames: readonly string[];
  /** The exported model file's meta (dataset, steps, calibrated threshold, …). */
  readonly meta: ModelMeta;
  /** The exported model file's config, when it was exported from one. */
  readonly config: ModelConfig | null;
  /** The input contract and output names stored in the file. */
  readonly contract: OnnxContract;
  /** The scores the graph computes (what `detect` accepts). */
  readonly scoreNames: readonly ScoreName[];
  /** Where the model came from (a path, or `the given bytes`). */
  readonly source: string;
  /** The execution provider the session runs on (`cpu`, `webgpu`, …). */
  readonly executionProvider: string;
  /** Execution providers tried before it, with the reason each did not start. */
  readonly fallbacks: readonly ExecutionProviderFailure[];
  /** The ONNX Runtime session (for other outputs, e.g. `logits`). */
  readonly session: OrtSessionLike;
  /**
   * Scores one 8-bit RGB image (divided by 255) with every score of `options.scores` from one
   * run, plus the closed-set prediction, at the image's full size.
   * @throws DenseHybridError `INVALID_INPUT` for a malformed or too small image,
   *   `INVALID_OPTION` for a score the graph does not compute, `BACKEND` when the run fails
   */
  detect<N extends ScoreName = 'hybrid'>(
    image: DetectorImage,
    options?: DetectOptions<N>,
  ): Promise<DetectResult<N>>;
  /** One score (default `hybrid`) of one image: {@link OnnxDetector.detect} with one name. */
  score(image: DetectorImage, score?: ScoreName): Promise<ScoreResult>;
  /** Releases the session (idempotent). */
  dispose(): void;
}

function checkImage(fn: string, image: DetectorImage, contract: OnnxContract): void {
  const ok =
    image !== null &&
    typeof image === 'object' &&
    image.data instanceof Uint8Array &&
    Number.isInteger(image.width) &&
    image.width > 0 &&
    Number.isInteger(image.height) &&
    image.height > 0 &&
    image.data.length === image.width * image.height * 3;
  if (!ok) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected an RGB image { data: Uint8Array(width·height·3), width, height }, got ${image?.data instanceof Uint8Array ? `${describeValue(image.data)} for ${image.width}×${image.height}` : describeValue(image)}`,
    );
  }
  const i = contract.input;
  if (i.size !== null && (image.height !== i.size[0] || image.width !== i.size[1])) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a ${i.size[1]}×${i.size[0]} image (the model was exported at a fixed size), got ${image.width}×${image.height}`,
    );
  }
  if (
    image.height < i.minSize ||
    image.width < i.minSize ||
    image.height % i.sizeMultiple !== 0 ||
    image.width % i.sizeMultiple !== 0
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected an image of at least ${i.minSize}×${i.minSize} pixels${i.sizeMultiple > 1 ? `, sides multiples of ${i.sizeMultiple}` : ''}, got ${image.width}×${image.height}`,
    );
  }
}

/** 8-bit RGB → float32 `[0, 1]` in the contract's layout (x/255 in float32, as tfjs divides). */
function toInput(image: DetectorImage, layout: OnnxContract['input']['layout']): Float32Array {
  const { data, width, height } = image;
  const out = new Float32Array(data.length);
  if (layout === 'NHWC') {
    for (let i = 0; i < data.length; i++) out[i] = (data[i] as number) / 255;
    return out;
  }
  const plane = width * height;
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++) out[c * plane + p] = (data[3 * p + c] as number) / 255;
  return out;
}

/** Starts a session on the first execution provider that works. */
async function startSession(
  fn: string,
  ort: OrtModuleLike,
  bytes: Uint8Array,
  options: OnnxDetectorOptions,
): Promise<{ session: OrtSessionLike; provider: string; fallbacks: ExecutionProviderFailure[] }> {
  const providers = options.executionProviders ?? DEFAULT_ONNX_DETECTOR_OPTIONS.executionProviders;
  if (
    !Array.isArray(providers) ||
    providers.length === 0 ||
    providers.some((p) => typeof p !== 'string' || p === '')
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.executionProviders to be a non-empty list of names (cpu, webgpu, …), got ${describeValue(providers)}`,
    );
  }
  const threads = options.threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.threads to be an integer >= 1, got ${describeValue(threads)}`,
    );
  }
  const fallbacks: ExecutionProviderFailure[] = [];
  for (const provider of providers) {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        ...(threads !== undefined ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
        ...options.sessionOptions,
      });
      return { session, provider, fallbacks };
    } catch (e) {
      fallbacks.push({ executionProvider: provider, reason: String((e as Error)?.message ?? e) });
    }
  }
  throw new DenseHybridError(
    'BACKEND',
    `${fn}: expected one of the execution providers ${providers.join(', ')} to start a session for ${options.source ?? DEFAULT_ONNX_DETECTOR_OPTIONS.source}, got ${fallbacks.map((f) => `${f.executionProvider}: ${f.reason.split('\n')[0]}`).join('; ')}`,
  );
}

/**
 * Opens an exported DenseHybrid model (the bytes of a `.onnx` file from `exportOnnx`) on the
 * given ONNX Runtime module: reads the input contract from its metadata and starts a session on
 * the first execution provider that works.
 *
 * @param ort - the ONNX Runtime module (`onnxruntime-node`, `onnxruntime-web`).
 * @param bytes - the model file's bytes.
 * @param options - see {@link OnnxDetectorOptions}.
 * @returns an {@link OnnxDetector}; call `dispose()` to release its session.
 * @throws DenseHybridError `MODEL_LOAD` for a file not exported by this package, `BACKEND` when
 *   no execution provider starts, `INVALID_OPTION` for bad options
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-web/webgpu';
 * import { createOnnxDetector } from '@densehybrid/onnx/runtime';
 * const bytes = new Uint8Array(await (await fetch('model.onnx')).arrayBuffer());
 * const detector = await createOnnxDetector(ort, bytes, { executionProviders: ['webgpu', 'wasm'] });
 * ```
 */
export async function createOnnxDetector(
  ort: OrtModuleLike,
  bytes: Uint8Array,
  options: OnnxDetectorOptions = {},
): Promise<OnnxDetector> {
  const fn = 'createOnnxDetector';
  if (options === null || typeof options !== 'object') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected an options object, got ${describeValue(options)}`,
    );
  }
  const source = options.source ?? DEFAULT_ONNX_DETECTOR_OPTIONS.source;
  const { contract } = readOnnxMetadata(bytes, source);
  const { session, provider, fallbacks } = await startSession(fn, ort, bytes, options);
  const scoreNames = Object.keys(contract.outputs.scores) as ScoreName[];
  let disposed = false;
  const detect = async <N extends ScoreName>(
    image: DetectorImage,
    o: DetectOptions<N> = {},
  ): Promise<DetectResult<N>> => {
    const dfn = 'OnnxDetector.detect';
    if (disposed) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${dfn}: expected a live detector, got one that was disposed`,
      );
    }
    checkImage(dfn, image, contract);
    const names = (o.scores ?? ['hybrid']) as readonly N[];
    for (const n of names) {
      if (!scoreNames.includes(n)) {
        throw new DenseHybridError(
          'INVALID_OPTION',
          `${dfn}: expected options.scores from the scores exported into ${source} (${scoreNames.join(', ')}; export others with exportOnnx({ scores })), got ${describeValue(n)}`,
        );
      }
    }
    const { width, height } = image;
    const dims = contract.input.layout === 'NHWC' ? [1, height, width, 3] : [1, 3, height, width];
    const feed = new ort.Tensor('float32', toInput(image, contract.input.layout), dims);
    const fetches = [
      ...names.map((n) => contract.outputs.scores[n] as string),
      contract.outputs.closed,
    ];
    let out: Readonly<Record<string, OrtTensorLike>>;
    try {
      out = await session.run({ [contract.input.name]: feed }, fetches);
    } catch (e) {
      throw new DenseHybridError(
        'BACKEND',
        `${dfn}: expected ONNX Runtime (${provider}) to run ${source} on a ${width}×${height} image, got ${(e as Error)?.message ?? String(e)}`,
        { cause: e },
      );
    } finally {
      feed.dispose?.();
    }
    const scores = {} as Record<N, Float32Array>;
    for (const n of names) {
      const t = out[contract.outputs.scores[n] as string] as OrtTensorLike;
      scores[n] = t.data as Float32Array;
    }
    const closedTensor = out[contract.outputs.closed] as OrtTensorLike;
    const closed = Uint8Array.from(closedTensor.data as Int32Array);
    for (const t of Object.values(out)) t.dispose?.();
    return { width, height, scores, closed };
  };
  return {
    numClasses: contract.numClasses,
    classNames: contract.classNames,
    meta: contract.meta,
    config: contract.config,
    contract,
    scoreNames,
    source,
    executionProvider: provider,
    fallbacks,
    session,
    detect,
    async score(image, score = 'hybrid') {
      const all = await detect(image, { scores: [score] });
      return { ...all, scores: all.scores[score] };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      void session.release().catch(() => undefined);
    },
  };
}
