import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

const MAGIC = 'DHTS';
/** Version of the training-state file format written by {@link train}. */
export const TRAINING_STATE_FORMAT_VERSION = 1;

/** Header of a training-state file (JSON; the tensors follow as raw little-endian data). */
export interface TrainingStateHeader {
  readonly format: 'densehybrid-training-state';
  readonly version: number;
  /** Steps completed. */
  readonly step: number;
  /** Free-form JSON the writer adds (options, loss history, model config…). */
  readonly meta: Readonly<Record<string, unknown>>;
  readonly tensors: readonly {
    readonly name: string;
    readonly shape: readonly number[];
    readonly dtype: 'float32' | 'int32';
    readonly offset: number;
    readonly length: number;
  }[];
}

/**
 * Writes `variables` and a JSON header into one file, atomically: a temp file beside it,
 * flushed to disk, then renamed over `path`. Reads tensors with `await data()` only.
 * @internal used by {@link train}
 */
export async function writeTrainingState(
  path: string,
  step: number,
  variables: ReadonlyMap<string, tf.Variable>,
  meta: Readonly<Record<string, unknown>>,
): Promise<void> {
  const tensors: TrainingStateHeader['tensors'][number][] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, v] of variables) {
    if (v.dtype !== 'float32' && v.dtype !== 'int32') {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `writeTrainingState: expected float32 or int32 variables, got ${v.dtype} for "${name}"`,
      );
    }
    const data = (await v.data()) as Float32Array | Int32Array;
    const bytes = new Uint8Array(
      data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    );
    tensors.push({ name, shape: v.shape, dtype: v.dtype, offset, length: data.length });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const header: TrainingStateHeader = {
    format: 'densehybrid-training-state',
    version: TRAINING_STATE_FORMAT_VERSION,
    step,
    meta,
    tensors,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((8 + json.length) % 4)) % 4;
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length + pad, 4);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'w');
    try {
      await fh.write(prefix);
      await fh.write(Buffer.concat([json, Buffer.alloc(pad, 0x20)]));
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DenseHybridError(
      'IO',
      `writeTrainingState: expected to write ${path}, got ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** A training-state file read back: its header and a reader for each tensor's values. */
export interface TrainingStateFile {
  readonly header: TrainingStateHeader;
  values(name: string): Float32Array | Int32Array | undefined;
}

/**
 * Reads a file written by {@link writeTrainingState}; `undefined` when it does not exist.
 * @throws DenseHybridError `MODEL_LOAD` for a foreign or truncated file
 * @internal used by {@link train}
 */
export async function readTrainingState(path: string): Promise<TrainingStateFile | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DenseHybridError(
      'IO',
      `readTrainingState: expected to read ${path}, got ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const bad = (why: string): never => {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `readTrainingState: expected ${path} to be a densehybrid training state, got ${why}`,
    );
  };
  if (buf.length < 8 || buf.toString('latin1', 0, 4) !== MAGIC) bad('no DHTS magic');
  const headerLength = buf.readUInt32LE(4);
  if (8 + headerLength > buf.length) bad('a truncated header');
  let header: TrainingStateHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + headerLength)) as TrainingStateHeader;
  } catch {
    return bad('an unreadable header');
  }
  if (
    header.format !== 'densehybrid-training-state' ||
    header.version !== TRAINING_STATE_FORMAT_VERSION
  ) {
    bad(`format ${String(header.format)} v${String(header.version)}`);
  }
  const base = 8 + headerLength;
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  for (const t of header.tensors)
    if (base + t.offset + t.length * 4 > buf.length) bad(`truncated data for "${t.name}"`);
  return {
    header,
    values(name) {
      const t = byName.get(name);
      if (!t) return undefined;
      const bytes = buf.buffer.slice(
        buf.byteOffset + base + t.offset,
        buf.byteOffset + base + t.offset + t.length * 4,
      );
      return t.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
    },
  };
}

/**
 * Assigns every variable of `variables` from `file`, checking names and shapes first (nothing
 * is assigned when anything is missing or mismatched).
 * @throws DenseHybridError `MODEL_LOAD` naming the first missing or mismatched variable
 * @internal used by {@link train}
 */
export function restoreVariables(
  file: TrainingStateFile,
  variables: ReadonlyMap<string, tf.Variable>,
  path: string,
): void {
  const byName = new Map(file.header.tensors.map((t) => [t.name, t]));
  for (const [name, v] of variables) {
    const t = byName.get(name);
    if (!t) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `train: expected checkpoint ${path} to hold "${name}", got no such tensor`,
      );
    }
    if (t.shape.join('x') !== v.shape.join('x') || t.dtype !== v.dtype) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `train: expected "${name}" in ${path} to be ${v.dtype}[${v.shape.join(',')}], got ${t.dtype}[${t.shape.join(',')}]`,
      );
    }
  }
  for (const [name, v] of variables) {
    const values = file.values(name) as Float32Array | Int32Array;
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, v.dtype)));
  }
}
