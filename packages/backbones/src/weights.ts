import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue, listNames } from '@densehybrid/metrics-openiou';
import {
  decodeSafetensor,
  parseSafetensors,
  readSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
} from './safetensors.js';
import type { SegmentationModel } from './model.js';

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /**
   * Leave model weights absent from the file at their current values (e.g. ImageNet weights
   * cover only the encoder) instead of failing.
   * @default false
   */
  readonly allowMissing?: boolean;
  /**
   * Ignore file weights the model does not have (ImageNet classifier, a posterior head loaded
   * separately) instead of failing.
   * @default false
   */
  readonly allowUnexpected?: boolean;
  /**
   * Prefix added to every file name before matching, or `'auto'`: whichever of `''` and
   * `'backbone.'` matches more names (torchvision's DenseNet `features.*` becomes the ladder
   * DenseNet's `backbone.features.*`).
   * @default 'auto'
   */
  readonly addPrefix?: string;
  /**
   * Prefix removed from file names first; by default DataParallel's `module.` when every name
   * carries it.
   * @default 'module.' if all names start with it, else ''
   */
  readonly stripPrefix?: string;
  /**
   * File names to skip silently (matched before prefixes are changed).
   * @default [/num_batches_tracked$/, /(^|\.)logits_aux\./]
   */
  readonly ignore?: readonly RegExp[];
}

/** Default options of {@link loadWeights}. */
export const DEFAULT_LOAD_WEIGHTS_OPTIONS = {
  allowMissing: false,
  allowUnexpected: false,
  addPrefix: 'auto',
  ignore: [/num_batches_tracked$/, /(^|\.)logits_aux\./],
} as const satisfies LoadWeightsOptions;

/** What {@link loadWeights} did. */
export interface LoadWeightsResult {
  /** Model weights assigned. */
  readonly loaded: number;
  /** Model weights the file lacked (left unchanged; only with `allowMissing`). */
  readonly missing: readonly string[];
  /** File weights (after prefix changes) the model lacks (only with `allowUnexpected`). */
  readonly unexpected: readonly string[];
  /** File entries skipped by `ignore`. */
  readonly ignored: number;
  /** The prefix added to file names. */
  readonly addedPrefix: string;
  /** The prefix removed from file names. */
  readonly strippedPrefix: string;
}

const FN = 'loadWeights';

/** PyTorch layout → tfjs layout: conv OIHW → HWIO; everything else unchanged. */
function torchToTfjsShape(shape: readonly number[]): number[] {
  return shape.length === 4 ? ([shape[2], shape[3], shape[1], shape[0]] as number[]) : [...shape];
}

/**
 * Loads PyTorch weights from a `.safetensors` file into a model (or any map of variables) by
 * their `state_dict` names: torchvision DenseNet-121 / ResNet-18 / ResNet-50 ImageNet weights
 * (encoder only: pass `allowMissing` and `allowUnexpected`), or the authors' LDN checkpoints after
 * conversion. Converts conv weights OIHW → HWIO, loads BatchNorm running statistics, skips
 * `num_batches_tracked`, casts F16/BF16/F64 to float32. Checks every name and shape before
 * assigning anything.
 *
 * Converting a PyTorch `.pt`/`.pth` file (where PyTorch and `safetensors` are installed):
 * ```sh
 * python3 -c "import torch; from safetensors.torch import save_file; sd = torch.load('x.pt', map_location='cpu'); sd = sd.get('state_dict', sd); save_file({k: v.contiguous() for k, v in sd.items()}, 'x.safetensors')"
 * ```
 * Without the `safetensors` package, `packages/backbones/scripts/torch_to_safetensors.py`
 * (plain PyTorch) writes the same file.
 *
 * @param model - a {@link SegmentationModel}, or a map name → variable (e.g. a posterior head).
 * @param file - a path, the file's bytes, or a parsed {@link SafetensorsFile}.
 * @param options - see {@link LoadWeightsOptions}.
 * @returns what was loaded and skipped.
 * @throws DenseHybridError `MODEL_LOAD` for a shape mismatch (naming the weight and both shapes)
 *   or missing/unexpected names (listing them); `IO` / `INVALID_INPUT` for unreadable files.
 * @example
 * ```ts
 * const model = ladderDenseNet({ preset: 'densenet121', numClasses: 19 });
 * const r = await loadWeights(model, 'densenet121.safetensors', { allowMissing: true, allowUnexpected: true });
 * console.log(r.loaded, r.missing.length, r.unexpected); // 362 … ['classifier.weight', …]
 * ```
 */
export async function loadWeights(
  model: SegmentationModel | ReadonlyMap<string, tf.Variable>,
  file: string | Uint8Array | SafetensorsFile,
  options: LoadWeightsOptions = {},
): Promise<LoadWeightsResult> {
  const targets =
    model instanceof Map
      ? (model as ReadonlyMap<string, tf.Variable>)
      : (model as SegmentationModel)?.variables;
  if (!(targets instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected a model or a Map of variables, got ${describeValue(model)}`,
    );
  }
  const parsed: SafetensorsFile =
    typeof file === 'string'
      ? await readSafetensors(file)
      : file instanceof Uint8Array
        ? parseSafetensors(file)
        : file;
  if (parsed === null || typeof parsed !== 'object' || !(parsed.tensors instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected a path, bytes or a parsed safetensors file, got ${describeValue(file)}`,
    );
  }
  const ignore = options.ignore ?? DEFAULT_LOAD_WEIGHTS_OPTIONS.ignore;
  let ignored = 0;
  const kept: SafetensorsEntry[] = [];
  for (const entry of parsed.tensors.values()) {
    if (ignore.some((r) => r.test(entry.name))) ignored += 1;
    else kept.push(entry);
  }
  const strip =
    options.stripPrefix ??
    (kept.length > 0 && kept.every((e) => e.name.startsWith('module.')) ? 'module.' : '');
  const stripped = kept.map(
    (e) => [e.name.startsWith(strip) ? e.name.slice(strip.length) : e.name, e] as const,
  );
  let add = options.addPrefix ?? DEFAULT_LOAD_WEIGHTS_OPTIONS.addPrefix;
  if (add === 'auto') {
    const score = (p: string): number => stripped.filter(([n]) => targets.has(p + n)).length;
    add = score('backbone.') > score('') ? 'backbone.' : '';
  }
  const source = new Map(stripped.map(([n, e]) => [add + n, e] as const));
  const missing: string[] = [];
  const pairs: [tf.Variable, SafetensorsEntry][] = [];
  for (const [name, v] of targets) {
    const e = source.get(name);
    if (e === undefined) {
      missing.push(name);
      continue;
    }
    const shape = torchToTfjsShape(e.shape);
    if (JSON.stringify(shape) !== JSON.stringify(v.shape)) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${FN}: expected weight "${name}" with shape ${JSON.stringify(v.shape)} (tfjs layout${v.rank === 4 ? ', HWIO' : ''}), got ${JSON.stringify(e.shape)} in the file (PyTorch layout${e.shape.length === 4 ? ', OIHW' : ''}) as "${e.name}"`,
      );
    }
    pairs.push([v, e]);
  }
  const unexpected = [...source.keys()].filter((n) => !targets.has(n));
  if (missing.length > 0 && !(options.allowMissing ?? false)) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${FN}: expected every model weight in the file, got ${missing.length} missing: ${listNames(missing)} (pass allowMissing for partial weights such as ImageNet encoders)`,
    );
  }
  if (unexpected.length > 0 && !(options.allowUnexpected ?? false)) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${FN}: expected only model weights in the file, got ${unexpected.length} unexpected: ${listNames(unexpected)} (pass allowUnexpected to skip them)`,
    );
  }
  for (const [v, e] of pairs) {
    tf.tidy(() => {
      const values = decodeSafetensor(e);
      if (v.dtype !== 'float32') {
        throw new DenseHybridError(
          'MODEL_LOAD',
          `${FN}: expected float32 model weight "${e.name}", got ${v.dtype}`,
        );
      }
      const t = tf.tensor(
        values instanceof Float32Array ? values : Float32Array.from(values),
        [...e.shape],
        'float32',
      );
      v.assign(e.shape.length === 4 ? tf.transpose(t, [2, 3, 1, 0]) : t);
    });
  }
  return {
    loaded: pairs.length,
    missing,
    unexpected,
    ignored,
    addedPrefix: add,
    strippedPrefix: strip,
  };
}
