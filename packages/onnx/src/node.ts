import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  createOnnxDetector,
  type OnnxDetector,
  type OnnxDetectorOptions,
  type OrtModuleLike,
} from './runtime.js';

/** Options of {@link loadOnnxDetector}: those of `createOnnxDetector` (source: the path). */
export type LoadOnnxDetectorOptions = Omit<OnnxDetectorOptions, 'source'>;

/** How to install ONNX Runtime for Node, for error messages and docs. */
export const ONNXRUNTIME_NODE_INSTALL =
  'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0 (the variable skips its CUDA download on Linux; the CPU and WebGPU providers are in the package)';

/**
 * Imports the optional peer `onnxruntime-node`.
 * @throws DenseHybridError `BACKEND` naming the install command when it is not installed
 */
async function importOnnxRuntimeNode(fn: string): Promise<OrtModuleLike> {
  try {
    const name = 'onnxruntime-node';
    const ort = (await import(name)) as { default?: OrtModuleLike } & Partial<OrtModuleLike>;
    return (ort.InferenceSession ? ort : ort.default) as OrtModuleLike;
  } catch (e) {
    throw new DenseHybridError(
      'BACKEND',
      `${fn}: expected the optional peer dependency onnxruntime-node to be installed (${ONNXRUNTIME_NODE_INSTALL}), got ${(e as Error).message.split('\n')[0]}`,
      { cause: e },
    );
  }
}

/**
 * Loads an exported DenseHybrid model (`.onnx` from `exportOnnx` or `densehybrid export`) on
 * ONNX Runtime for Node (the optional peer `onnxruntime-node`), as a detector with core's
 * `detect()` / `score()`.
 *
 * @param model - a `.onnx` file path, or its bytes.
 * @param options - execution providers (`['cpu']`, `['webgpu', 'cpu']`, …), threads; see
 *   {@link OnnxDetectorOptions}.
 * @returns an {@link OnnxDetector}; call `dispose()` when done.
 * @throws DenseHybridError `IO` for a file that cannot be read, `MODEL_LOAD` for a file that is
 *   not an exported DenseHybrid model (or a checkpoint folder: export it first), `BACKEND` when
 *   onnxruntime-node is missing or no execution provider starts
 * @example
 * ```ts
 * const detector = await loadOnnxDetector('model.onnx', { executionProviders: ['webgpu', 'cpu'] });
 * const { scores } = await detector.detect(image, { scores: ['hybrid'] });
 * console.log(detector.executionProvider); // 'cpu' where no GPU adapter is found
 * detector.dispose();
 * ```
 */
export async function loadOnnxDetector(
  model: string | Uint8Array,
  options: LoadOnnxDetectorOptions = {},
): Promise<OnnxDetector> {
  const fn = 'loadOnnxDetector';
  let bytes: Uint8Array;
  let source = 'the given bytes';
  if (typeof model === 'string') {
    source = model;
    const st = await stat(model).catch(() => undefined);
    if (st?.isDirectory()) {
      const isCheckpoint =
        (await stat(join(model, 'checkpoint.json')).catch(() => undefined)) !== undefined ||
        (await stat(join(model, 'model', 'checkpoint.json')).catch(() => undefined)) !== undefined;
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${fn}: expected an .onnx file, got the folder ${model}${isCheckpoint ? ' (a checkpoint: export it with exportOnnx or `densehybrid export --checkpoint <dir> --format onnx --out model.onnx`)' : ''}`,
      );
    }
    try {
      bytes = await readFile(model);
    } catch (e) {
      throw new DenseHybridError(
        'IO',
        `${fn}: expected a readable .onnx file, got ${model} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        { cause: e },
      );
    }
  } else if (model instanceof Uint8Array) {
    bytes = model;
  } else {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a path or the bytes of an .onnx file, got ${describeValue(model)}`,
    );
  }
  const ort = await importOnnxRuntimeNode(fn);
  return createOnnxDetector(ort, bytes, { ...options, source });
}
