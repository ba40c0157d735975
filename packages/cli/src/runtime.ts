import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { SCORES, checkpointDigest, loadModel } from '@densehybrid/core';
import type { Detector, DetectorImage, ScoreName, ScoreResult } from '@densehybrid/core';
import { exportOnnx, loadOnnxDetector } from '@densehybrid/onnx';
import { sha256 } from '@densehybrid/metrics-openiou/node';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import type { BackendName } from '@densehybrid/tfjs-wasm-training';
import { CliUsageError } from './args.js';
import type { CommandContext } from './command.js';
import { setupBackend } from './commands/common.js';

/**
 * Where `infer` and `eval` run the network: TensorFlow.js (the default) or ONNX Runtime for Node
 * (`--runtime onnx`, the optional peer `onnxruntime-node`). Both give a detector with core's
 * `detect()` / `score()`, so the commands write the same outputs, reports and errors.
 */

/** `--runtime` values. */
export const RUNTIME_NAMES = ['tfjs', 'onnx'] as const;
/** One of {@link RUNTIME_NAMES}. */
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** `--runtime`: shared by `infer` and `eval`. */
export const RUNTIME_FLAG = {
  type: 'string',
  choices: RUNTIME_NAMES,
  default: 'tfjs',
  description:
    'tfjs: TensorFlow.js (--backend); onnx: ONNX Runtime for Node (optional peer onnxruntime-node), on the checkpoint exported in memory or on an .onnx file from `densehybrid export` given as --checkpoint; CPU execution provider, WebGPU with --backend webgpu; --threads sets its threads',
} as const;

/** What infer and eval read from a detector (core's `Detector` and `OnnxDetector` both have it). */
export type CliDetector = Pick<
  Detector,
  'numClasses' | 'classNames' | 'meta' | 'dir' | 'detect' | 'score' | 'dispose'
>;

/**
 * One forward pass with its raw outputs (`infer --raw`), all float32 at the image's full size,
 * row-major: the score map and closed-set prediction as {@link Detector.score} gives them, plus
 * the logits and the posterior logit g as {@link Detector.predict} gives them.
 */
export interface RawFrame extends ScoreResult {
  /** Class logits `[H, W, K]` (NHWC without the batch), after the upsampling to the input size. */
  readonly logits: Float32Array;
  /** The dataset-posterior logit g (σ(g) = P(d_out|x); the OOD logit), `[H, W]`. */
  readonly posteriorLogits: Float32Array;
}

/** A detector opened for a command, with what its records and reports name. */
export interface OpenedDetector {
  readonly detector: CliDetector;
  /**
   * The raw outputs of one image (8-bit RGB, divided by 255) and one score, from one forward
   * pass; `null` on runtimes that do not give them (`--runtime onnx`).
   */
  readonly raw: ((image: DetectorImage, score: ScoreName) => Promise<RawFrame>) | null;
  /** The backend / execution provider, for reports (`wasm`, `onnxruntime cpu`, …). */
  readonly backend: string;
  /** The model's identity for resume keys: the checkpoint digest, or the .onnx file's SHA-256. */
  digest(): Promise<string>;
  /** Added to resume keys: nothing for tfjs (older records stay valid), `{ runtime }` otherwise. */
  readonly key: Readonly<Record<string, string>>;
}

/** The flags {@link openDetector} reads. */
export interface OpenDetectorFlags {
  readonly runtime: RuntimeName;
  readonly checkpoint: string;
  readonly backend: BackendName | undefined;
  readonly threads: number | undefined;
  /** Scores the command computes (exported into the graph when exporting in memory). */
  readonly scores: readonly ScoreName[];
}

/**
 * {@link OpenedDetector.raw} on tfjs: the ops of core's `Detector.detect` (the image as float32
 * divided by 255, `predict`, the score of `SCORES`, argmax), keeping the logits and the posterior
 * logit. No tensor survives the call.
 */
async function rawForward(
  detector: Detector,
  image: DetectorImage,
  score: ScoreName,
): Promise<RawFrame> {
  const { width, height } = image;
  const out = tf.tidy(() => {
    const x = tf.div(tf.tensor4d(image.data, [1, height, width, 3], 'float32'), 255) as tf.Tensor4D;
    const { logits, posteriorLogits } = detector.predict(x);
    return {
      logits,
      posteriorLogits,
      s: SCORES[score](logits, posteriorLogits),
      c: tf.cast(tf.argMax(logits, -1), 'int32'),
    };
  });
  try {
    const [logits, posteriorLogits, scores, closed] = await Promise.all([
      out.logits.data() as Promise<Float32Array>,
      out.posteriorLogits.data() as Promise<Float32Array>,
      out.s.data() as Promise<Float32Array>,
      out.c.data() as Promise<Int32Array>,
    ]);
    return { width, height, scores, closed: Uint8Array.from(closed), logits, posteriorLogits };
  } finally {
    tf.dispose([out.logits, out.posteriorLogits, out.s, out.c]);
  }
}

const isOnnxFile = async (path: string): Promise<boolean> =>
  path.toLowerCase().endsWith('.onnx') &&
  (await stat(path).catch(() => undefined))?.isFile() === true;

/**
 * The folder a command writes its default outputs next to: the checkpoint folder, or for an
 * `.onnx` file its path without the extension.
 *
 * @example
 * ```ts
 * outputRoot('runs/sh'); // 'runs/sh'
 * outputRoot('model.onnx'); // 'model'
 * ```
 */
export function outputRoot(checkpoint: string): string {
  return checkpoint.toLowerCase().endsWith('.onnx') ? checkpoint.slice(0, -5) : checkpoint;
}

/**
 * Opens `--checkpoint` on `--runtime`: tfjs initialises the backend and loads the model; onnx
 * loads an `.onnx` file, or exports a checkpoint folder in memory (tfjs on the CPU reads the
 * weights) with the command's scores, and starts ONNX Runtime.
 *
 * @throws CliUsageError for `--backend tensorflow` with `--runtime onnx` or an .onnx file with
 *   `--runtime tfjs`; DenseHybridError `MODEL_LOAD`, `IO`, `BACKEND` as the loaders
 */
export async function openDetector(
  ctx: CommandContext,
  flags: OpenDetectorFlags,
): Promise<OpenedDetector> {
  const file = await isOnnxFile(flags.checkpoint);
  if (flags.runtime === 'tfjs') {
    if (file) {
      throw new CliUsageError(
        `--checkpoint: expected a run or checkpoint folder with --runtime tfjs, got the ONNX file ${flags.checkpoint} (add --runtime onnx)`,
      );
    }
    const report = await setupBackend(ctx, flags.backend, flags.threads);
    const detector = await loadModel(flags.checkpoint);
    return {
      detector,
      raw: (image, score) => rawForward(detector, image, score),
      backend: report.name,
      digest: () => checkpointDigest(detector.dir),
      key: {},
    };
  }
  if (flags.backend === 'tensorflow') {
    throw new CliUsageError(
      `--backend: expected webgpu, wasm or cpu with --runtime onnx (ONNX Runtime's WebGPU or CPU execution provider), got tensorflow`,
    );
  }
  const providers = flags.backend === 'webgpu' ? ['webgpu'] : ['cpu'];
  const threads = flags.threads ?? Math.max(1, Math.min(8, availableParallelism()));
  let bytes: Uint8Array;
  let dir: string;
  let digest: () => Promise<string>;
  if (file) {
    bytes = await readFile(flags.checkpoint);
    dir = flags.checkpoint;
    const hash = `onnx:${sha256(bytes)}`;
    digest = async () => hash;
  } else {
    // the weights are read with tfjs (cpu: no threads to start, nothing to compile; quiet: the
    // network runs on ONNX Runtime)
    await initBackend({ backend: 'cpu', log: ctx.debug, debug: ctx.debug });
    const loaded = await loadModel(flags.checkpoint);
    try {
      bytes = await exportOnnx(loaded, { scores: [...flags.scores] });
    } finally {
      loaded.dispose();
    }
    dir = loaded.dir;
    digest = () => checkpointDigest(dir);
  }
  const onnx = await loadOnnxDetector(bytes, { executionProviders: providers, threads });
  const absent = flags.scores.filter((n) => !onnx.scoreNames.includes(n));
  if (absent.length > 0) {
    onnx.dispose();
    throw new CliUsageError(
      `--score: expected scores exported into ${flags.checkpoint} (${onnx.scoreNames.join(', ')}; \`densehybrid export --score ${[...new Set([...onnx.scoreNames, ...absent])].join(',')}\` adds others), got ${absent.join(', ')}`,
    );
  }
  const backend = `onnxruntime ${onnx.executionProvider}`;
  const line = `runtime onnx: ONNX Runtime, ${onnx.executionProvider} execution provider${onnx.executionProvider === 'cpu' ? `, ${threads} thread${threads === 1 ? '' : 's'}` : ''}${file ? '' : ' (checkpoint exported in memory)'}`;
  if (ctx.globals.json) ctx.debug(line);
  else ctx.log(line);
  return {
    detector: {
      numClasses: onnx.numClasses,
      classNames: onnx.classNames,
      meta: onnx.meta,
      dir,
      // closures of createOnnxDetector (no `this`)
      detect: onnx.detect,
      score: onnx.score,
      dispose: onnx.dispose,
    },
    raw: null,
    backend,
    digest,
    key: { runtime: 'onnx' },
  };
}
