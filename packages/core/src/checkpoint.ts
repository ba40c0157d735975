import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue, listNames } from '@densehybrid/metrics-openiou';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  recoverDirectory,
  sha256,
  canonicalJson,
  writeDirectoryAtomic,
  writeFileSynced,
} from '@densehybrid/metrics-openiou/node';
import {
  decodeSafetensor,
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensorInput,
  type SegmentationModel,
} from '@densehybrid/backbones';

/** A tensor with a name (the shape of tfjs' `optimizer.getWeights()` entries). */
export interface NamedTensor {
  readonly name: string;
  readonly tensor: tf.Tensor;
}

/**
 * An optimizer's state, optimizer-agnostic: named tensors (e.g. Adam's first/second moments, in
 * the order `optimizer.getWeights()` returns them), the step count, and any scalar settings.
 */
export interface OptimizerState {
  /** Which optimizer, e.g. `'adam'`. */
  readonly name: string;
  /** Optimisation steps taken. */
  readonly step: number;
  /** State tensors in a stable order. */
  readonly tensors: readonly NamedTensor[];
  /** Scalars (learning rate, beta1, …). @default {} */
  readonly scalars?: Readonly<Record<string, number>>;
}

/** What {@link saveCheckpoint} stores. */
export interface CheckpointInput {
  /** JSON configuration (e.g. `model.config`); rebuilds the architecture. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Weights by name: any mix of models, heads, running statistics. */
  readonly variables: ReadonlyMap<string, tf.Tensor>;
  /** Optimizer state. @default none */
  readonly optimizer?: OptimizerState;
  /** Arbitrary JSON (step, epoch, RNG state, calibrated threshold, …). @default {} */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Stored as-is in `checkpoint.json` (`createdAt`); injectable for reproducible files. @default new Date().toISOString() */
  readonly createdAt?: string;
}

/** Default options of {@link saveCheckpoint}. */
export const DEFAULT_SAVE_CHECKPOINT_OPTIONS = {} as const satisfies SaveCheckpointOptions;

/** What {@link saveCheckpoint} wrote. */
export interface SaveCheckpointResult {
  /** The checkpoint directory. */
  readonly dir: string;
  /** Bytes of the weights file. */
  readonly variableBytes: number;
  /** Bytes of the optimizer file (0 without optimizer state). */
  readonly optimizerBytes: number;
}

/** A loaded checkpoint. The caller owns every tensor: dispose with {@link disposeCheckpoint}. */
export interface Checkpoint {
  readonly config: Readonly<Record<string, unknown>>;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly variables: ReadonlyMap<string, tf.Tensor>;
  readonly optimizer?: OptimizerState;
  /** ISO time of writing. */
  readonly createdAt: string;
  /** The directory actually read (differs from the request after recovering an interrupted replace). */
  readonly dir: string;
  /** The checkpoint's content identity, as {@link checkpointDigest} returns it. */
  readonly digest: string;
}

/** `checkpoint.json` format name and version. */
export const CHECKPOINT_FORMAT = 'densehybrid-checkpoint';
export const CHECKPOINT_VERSION = 1;
const MANIFEST = 'checkpoint.json';
const VARIABLES_FILE = 'variables.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

interface ManifestEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

/** A file of the checkpoint: its name, size and (since issue 18) SHA-256. */
interface ManifestFile {
  readonly file: string;
  readonly bytes: number;
  /** Hex SHA-256 of the file; absent in checkpoints written before it existed. */
  readonly sha256?: string;
}

interface Manifest {
  readonly format: string;
  readonly version: number;
  readonly createdAt: string;
  readonly layout: string;
  readonly config: Record<string, unknown>;
  readonly meta: Record<string, unknown>;
  readonly variables: ManifestFile & {
    readonly tensors: ManifestEntry[];
  };
  readonly optimizer?: ManifestFile & {
    readonly name: string;
    readonly step: number;
    readonly scalars: Record<string, number>;
    readonly tensors: ManifestEntry[];
  };
}

const DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  float32: 'F32',
  int32: 'I32',
  bool: 'BOOL',
};

/** Reads tensors with async `data()` (works on webgpu) into safetensors inputs. */
async function readTensors(
  fn: string,
  entries: readonly (readonly [string, tf.Tensor])[],
): Promise<{ inputs: Map<string, SafetensorsTensorInput>; manifest: ManifestEntry[] }> {
  const inputs = new Map<string, SafetensorsTensorInput>();
  const manifest: ManifestEntry[] = [];
  for (const [name, t] of entries) {
    if (t === null || typeof t !== 'object' || typeof (t as tf.Tensor).data !== 'function') {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected tensor "${name}" to be a tf.Tensor, got ${describeValue(t)}`,
      );
    }
    if (t.isDisposed) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected tensor "${name}" to be alive, got a disposed tensor`,
      );
    }
    const dtype = DTYPES[t.dtype];
    if (dtype === undefined) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected tensor "${name}" of dtype float32, int32 or bool, got ${t.dtype}`,
      );
    }
    if (inputs.has(name)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected unique tensor names, got "${name}" twice`,
      );
    }
    const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
    inputs.set(name, { dtype, shape: t.shape, data });
    manifest.push({ name, dtype, shape: t.shape });
  }
  return { inputs, manifest };
}

/**
 * Saves weights, configuration, optimizer state and metadata to a directory, atomically: the
 * files are written and fsynced into a temporary sibling, which then replaces `dir` (an existing
 * `dir` is renamed aside first and removed last; temporary siblings that a killed earlier write
 * left are removed). Layout: `checkpoint.json` (format, config, meta, manifest of every tensor,
 * size and SHA-256 of every file), `variables.safetensors`, and `optimizer.safetensors` when
 * optimizer state is given. Tensors keep tfjs layout (conv weights HWIO). Reads tensors with async `data()`,
 * so it works on every backend including webgpu. Plain `fs`, no tfjs-node. Does not dispose inputs.
 *
 * @param dir - checkpoint directory (created, or replaced).
 * @param input - what to store; see {@link CheckpointInput}.
 * @param options - see {@link SaveCheckpointOptions}.
 * @returns the sizes written.
 * @throws DenseHybridError `INVALID_INPUT` for non-JSON config/meta or bad tensors, `IO` when writing fails.
 * @example
 * ```ts
 * const optimizer = tf.train.adam(1e-4);
 * await saveCheckpoint('runs/ckpt', {
 *   config: model.config,
 *   variables: model.variables,
 *   optimizer: { name: 'adam', step: 100, tensors: await optimizer.getWeights() },
 *   meta: { step: 100 },
 * });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  input: CheckpointInput,
  options: SaveCheckpointOptions = {},
): Promise<SaveCheckpointResult> {
  const fn = 'saveCheckpoint';
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected dir as a non-empty path, got ${describeValue(dir)}`,
    );
  }
  if (input === null || typeof input !== 'object' || !(input.variables instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected input.variables as a Map of name → tensor, got ${describeValue(input?.variables)}`,
    );
  }
  const json = (what: string, value: unknown): Record<string, unknown> => {
    try {
      const text = JSON.stringify(value ?? {});
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch (e) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected ${what} to be a JSON object, got ${describeValue(value)}`,
        { cause: e },
      );
    }
  };
  const config = json('config', input.config);
  const meta = json('meta', input.meta);
  const vars = await readTensors(fn, [...input.variables]);
  const variableBytes = serializeSafetensors(vars.inputs, { format: CHECKPOINT_FORMAT });
  let optimizerBytes: Uint8Array | undefined;
  let optimizerManifest: Manifest['optimizer'];
  const opt = input.optimizer;
  if (opt !== undefined) {
    if (
      typeof opt.name !== 'string' ||
      !Number.isInteger(opt.step) ||
      opt.step < 0 ||
      !Array.isArray(opt.tensors)
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected optimizer as { name: string, step: integer >= 0, tensors: NamedTensor[] }, got ${describeValue(opt)}`,
      );
    }
    const o = await readTensors(
      fn,
      opt.tensors.map((t) => [t.name, t.tensor] as const),
    );
    optimizerBytes = serializeSafetensors(o.inputs);
    optimizerManifest = {
      file: OPTIMIZER_FILE,
      bytes: optimizerBytes.length,
      sha256: sha256(optimizerBytes),
      name: opt.name,
      step: opt.step,
      scalars: { ...(opt.scalars ?? {}) },
      tensors: o.manifest,
    };
  }
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    createdAt: options.createdAt ?? new Date().toISOString(),
    layout: 'tfjs (conv weights HWIO = PyTorch OIHW transposed [2, 3, 1, 0])',
    config,
    meta,
    variables: {
      file: VARIABLES_FILE,
      bytes: variableBytes.length,
      sha256: sha256(variableBytes),
      tensors: vars.manifest,
    },
    ...(optimizerManifest === undefined ? {} : { optimizer: optimizerManifest }),
  };
  await writeDirectoryAtomic(fn, dir, async (tmp) => {
    await writeFileSynced(join(tmp, VARIABLES_FILE), variableBytes);
    if (optimizerBytes !== undefined)
      await writeFileSynced(join(tmp, OPTIMIZER_FILE), optimizerBytes);
    // The manifest last: a directory with checkpoint.json is complete.
    await writeFileSynced(
      join(tmp, MANIFEST),
      new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'),
    );
  });
  return { dir, variableBytes: variableBytes.length, optimizerBytes: optimizerBytes?.length ?? 0 };
}

/**
 * Reads one file of a checkpoint and checks it against `checkpoint.json`: its size, and its
 * SHA-256 when the manifest records one (checkpoints written before issue 18 have sizes only).
 */
async function readChecked(
  fn: string,
  dir: string,
  entry: ManifestFile,
): Promise<{ file: SafetensorsFile; sha256: string }> {
  const path = join(dir, entry.file);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `${fn}: expected ${JSON.stringify(path)} to be readable, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (data.length !== entry.bytes) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected ${JSON.stringify(path)} of ${entry.bytes} bytes (per checkpoint.json), got ${data.length} (truncated or replaced file)`,
    );
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const actual = sha256(bytes);
  if (entry.sha256 !== undefined && actual !== entry.sha256) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected ${JSON.stringify(path)} with SHA-256 ${entry.sha256} (per checkpoint.json), got ${actual} (corrupted or replaced file)`,
    );
  }
  return { file: parseSafetensors(bytes, path), sha256: actual };
}

/**
 * Reads `checkpoint.json` of `dir` (or of the previous checkpoint renamed aside by an interrupted
 * replace) and checks its format.
 */
async function readManifest(
  fn: string,
  dir: string,
): Promise<{ manifest: Manifest; actual: string }> {
  let actual = dir;
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (e) {
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    const recovered = exists ? undefined : await recoverDirectory(dir, MANIFEST);
    if (recovered === undefined) {
      throw new DenseHybridError(
        'IO',
        `${fn}: expected a checkpoint directory with ${MANIFEST} at ${JSON.stringify(dir)}, got ${(e as Error).message}`,
        { cause: e },
      );
    }
    actual = recovered;
    text = await readFile(join(actual, MANIFEST), 'utf8');
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected ${MANIFEST} to be JSON, got invalid JSON in ${JSON.stringify(actual)}`,
      { cause: e },
    );
  }
  if (manifest?.format !== CHECKPOINT_FORMAT || manifest.version !== CHECKPOINT_VERSION) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected format "${CHECKPOINT_FORMAT}" version ${CHECKPOINT_VERSION}, got ${describeValue(manifest?.format)} version ${describeValue(manifest?.version)}`,
    );
  }
  return { manifest, actual };
}

/** The digest of a manifest's content given each file's SHA-256 (see {@link checkpointDigest}). */
function digestOf(manifest: Manifest, files: Readonly<Record<string, string>>): string {
  const content = {
    format: manifest.format,
    version: manifest.version,
    config: manifest.config,
    meta: manifest.meta,
    files,
  };
  return sha256(canonicalJson(content));
}

function toTensors(
  fn: string,
  file: SafetensorsFile,
  manifest: readonly ManifestEntry[],
  where: string,
): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  try {
    for (const m of manifest) {
      const entry = file.tensors.get(m.name);
      if (
        entry === undefined ||
        entry.dtype !== m.dtype ||
        JSON.stringify(entry.shape) !== JSON.stringify(m.shape)
      ) {
        throw new DenseHybridError(
          'MODEL_LOAD',
          `${fn}: expected ${where} tensor "${m.name}" ${m.dtype}${JSON.stringify(m.shape)} (per checkpoint.json), got ${entry === undefined ? 'none' : `${entry.dtype}${JSON.stringify(entry.shape)}`}`,
        );
      }
      const values = decodeSafetensor(entry);
      const dtype = m.dtype === 'F32' ? 'float32' : m.dtype === 'I32' ? 'int32' : 'bool';
      out.push([m.name, tf.tensor(values, [...m.shape], dtype)]);
    }
  } catch (e) {
    tf.dispose(out.map(([, t]) => t));
    throw e;
  }
  return out;
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}, checking every file against
 * `checkpoint.json`: its size and its SHA-256 (checkpoints written before the hashes existed are
 * checked by size only, and still load). If `dir` is missing because a replace was interrupted
 * between its two renames, the previous checkpoint (renamed aside) is loaded instead and `dir` in
 * the result says which.
 *
 * @param dir - checkpoint directory.
 * @returns config, meta, tensors (caller-owned; {@link disposeCheckpoint}), optimizer state and
 *   the content {@link checkpointDigest | digest}.
 * @throws DenseHybridError `IO` when it cannot be read, `MODEL_LOAD` when files are incomplete,
 *   corrupted (naming the file and both SHA-256) or inconsistent with `checkpoint.json`.
 * @example
 * ```ts
 * const ckpt = await loadCheckpoint('runs/ckpt');
 * const model = createBackbone(ckpt.config as BackboneConfig); // @densehybrid/backbones
 * restoreVariables(model, ckpt);
 * disposeCheckpoint(ckpt);
 * ```
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const fn = 'loadCheckpoint';
  const { manifest, actual } = await readManifest(fn, dir);
  const vars = await readChecked(fn, actual, manifest.variables);
  const hashes: Record<string, string> = { [manifest.variables.file]: vars.sha256 };
  const variables = new Map(toTensors(fn, vars.file, manifest.variables.tensors, 'variable'));
  let optimizer: OptimizerState | undefined;
  if (manifest.optimizer !== undefined) {
    const m = manifest.optimizer;
    try {
      const opt = await readChecked(fn, actual, m);
      hashes[m.file] = opt.sha256;
      const tensors = toTensors(fn, opt.file, m.tensors, 'optimizer').map(([name, tensor]) => ({
        name,
        tensor,
      }));
      optimizer = { name: m.name, step: m.step, scalars: m.scalars, tensors };
    } catch (e) {
      tf.dispose([...variables.values()]);
      throw e;
    }
  }
  return {
    config: manifest.config,
    meta: manifest.meta,
    variables,
    ...(optimizer === undefined ? {} : { optimizer }),
    createdAt: manifest.createdAt,
    dir: actual,
    digest: digestOf(manifest, hashes),
  };
}

/**
 * A checkpoint's content identity: hex SHA-256 over its format, `config`, `meta` and the SHA-256
 * of each file (weights, optimizer state) — not the write time, so re-saving the same content
 * gives the same digest, and any change of weights, config or meta (e.g. a calibrated threshold)
 * gives another. Use it as the checkpoint's part of a resume key. Reads only `checkpoint.json`
 * when it records the file hashes (it trusts them; {@link loadCheckpoint} verifies them), else
 * hashes the files (checkpoints written before the hashes existed); equals
 * {@link Checkpoint.digest}. Follows an interrupted replace like {@link loadCheckpoint}.
 *
 * @param dir - checkpoint directory.
 * @returns 64 hex digits.
 * @throws DenseHybridError `IO` when `checkpoint.json` or a file cannot be read, `MODEL_LOAD` for
 *   another format
 * @example
 * ```ts
 * const key = { checkpoint: await checkpointDigest('runs/sh/model'), scores: ['hybrid'] };
 * ```
 */
export async function checkpointDigest(dir: string): Promise<string> {
  const fn = 'checkpointDigest';
  const { manifest, actual } = await readManifest(fn, dir);
  const hashes: Record<string, string> = {};
  for (const entry of [manifest.variables, manifest.optimizer]) {
    if (entry === undefined) continue;
    if (entry.sha256 !== undefined) {
      hashes[entry.file] = entry.sha256;
      continue;
    }
    const path = join(actual, entry.file);
    try {
      hashes[entry.file] = sha256(await readFile(path));
    } catch (e) {
      throw new DenseHybridError(
        'IO',
        `${fn}: expected ${JSON.stringify(path)} to be readable, got ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return digestOf(manifest, hashes);
}

/**
 * Disposes every tensor of a loaded checkpoint (variables and optimizer state).
 *
 * @param checkpoint - from {@link loadCheckpoint}.
 * @example
 * ```ts
 * disposeCheckpoint(await loadCheckpoint('runs/ckpt'));
 * ```
 */
export function disposeCheckpoint(checkpoint: Checkpoint): void {
  tf.dispose([...checkpoint.variables.values()]);
  tf.dispose(checkpoint.optimizer?.tensors.map((t) => t.tensor) ?? []);
}

/** Options of {@link restoreVariables}. */
export interface RestoreVariablesOptions {
  /** Only source names starting with this prefix are considered, with the prefix removed. @default '' */
  readonly prefix?: string;
  /** Leave target variables absent from the source unchanged instead of failing. @default false */
  readonly allowMissing?: boolean;
  /** Ignore source names with no target variable instead of failing. @default false */
  readonly allowUnexpected?: boolean;
}

/** Default options of {@link restoreVariables}. */
export const DEFAULT_RESTORE_VARIABLES_OPTIONS = {
  prefix: '',
  allowMissing: false,
  allowUnexpected: false,
} as const satisfies RestoreVariablesOptions;

/** What {@link restoreVariables} did. */
export interface RestoreVariablesResult {
  /** Variables assigned. */
  readonly restored: number;
  /** Target names the source lacked (only with `allowMissing`). */
  readonly missing: readonly string[];
  /** Source names with no target (only with `allowUnexpected`). */
  readonly unexpected: readonly string[];
}

/**
 * Assigns checkpoint tensors to variables by name, after checking every name and shape (nothing is
 * assigned when anything mismatches). Works for a model or any map of variables (a posterior head,
 * a prefix of a combined checkpoint).
 *
 * @param target - a {@link SegmentationModel} or a map name → variable.
 * @param source - a {@link Checkpoint} or a map name → tensor (not disposed).
 * @param options - see {@link RestoreVariablesOptions}.
 * @returns counts and names skipped.
 * @throws DenseHybridError `MODEL_LOAD` naming the first weight whose shape or dtype differs (with
 *   both shapes), or listing missing / unexpected names.
 * @example
 * ```ts
 * restoreVariables(model, ckpt, { prefix: 'model.' });
 * restoreVariables(head.variables, ckpt, { prefix: 'head.' });
 * ```
 */
export function restoreVariables(
  target: SegmentationModel | ReadonlyMap<string, tf.Variable>,
  source: Checkpoint | ReadonlyMap<string, tf.Tensor>,
  options: RestoreVariablesOptions = {},
): RestoreVariablesResult {
  const fn = 'restoreVariables';
  const targets =
    target instanceof Map
      ? (target as ReadonlyMap<string, tf.Variable>)
      : (target as SegmentationModel).variables;
  const all =
    source instanceof Map
      ? (source as ReadonlyMap<string, tf.Tensor>)
      : (source as Checkpoint).variables;
  if (!(targets instanceof Map) || !(all instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a model or Map of variables and a checkpoint or Map of tensors, got ${describeValue(target)} and ${describeValue(source)}`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_RESTORE_VARIABLES_OPTIONS.prefix;
  const src = new Map<string, tf.Tensor>();
  for (const [name, t] of all) if (name.startsWith(prefix)) src.set(name.slice(prefix.length), t);
  const missing: string[] = [];
  const pairs: [tf.Variable, tf.Tensor][] = [];
  for (const [name, v] of targets) {
    const t = src.get(name);
    if (t === undefined) {
      missing.push(name);
      continue;
    }
    if (JSON.stringify(t.shape) !== JSON.stringify(v.shape) || t.dtype !== v.dtype) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${fn}: expected weight "${prefix}${name}" with shape ${JSON.stringify(v.shape)} (${v.dtype}) as in the model, got shape ${JSON.stringify(t.shape)} (${t.dtype}) in the checkpoint (different architecture or configuration?)`,
      );
    }
    pairs.push([v, t]);
  }
  const unexpected = [...src.keys()].filter((n) => !targets.has(n)).map((n) => prefix + n);
  if (missing.length > 0 && !(options.allowMissing ?? false)) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected every model weight in the checkpoint, got ${missing.length} missing: ${listNames(missing.map((n) => prefix + n))}`,
    );
  }
  if (unexpected.length > 0 && !(options.allowUnexpected ?? false)) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected only model weights in the checkpoint${prefix === '' ? '' : ` under prefix "${prefix}"`}, got ${unexpected.length} unexpected: ${listNames(unexpected)}`,
    );
  }
  for (const [v, t] of pairs) v.assign(t);
  return { restored: pairs.length, missing, unexpected };
}

/**
 * Prefixes every name of a map (to combine several models' variables in one checkpoint).
 *
 * @param prefix - e.g. `'model.'`.
 * @param variables - name → tensor.
 * @returns a new map with prefixed names (same tensors).
 * @example
 * ```ts
 * const all = new Map([...withPrefix('model.', model.variables), ...withPrefix('head.', head.variables)]);
 * ```
 */
export function withPrefix<T extends tf.Tensor>(
  prefix: string,
  variables: ReadonlyMap<string, T>,
): Map<string, T> {
  return new Map([...variables].map(([k, v]) => [prefix + k, v] as const));
}
