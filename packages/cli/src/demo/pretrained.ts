import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  disposeCheckpoint,
  loadCheckpoint,
  restoreVariables,
  type DenseHybridModel,
} from '@densehybrid/core';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

/**
 * The closed-set checkpoint shipped with the CLI (`densehybrid demo --pretrain` writes it): the
 * demo's backbone after closed-set training, weights only (float32, ~0.7 MB), in the project's
 * checkpoint format (`checkpoint.json` records every file's SHA-256), with its content digest
 * (`checkpointDigest`) in `<dir>.sha256` beside it, which loading checks.
 */
export const SHIPPED_PRETRAINED_DIR = fileURLToPath(
  new URL('../../assets/demo-closed-set', import.meta.url),
);

/** What {@link loadPretrained} restored. */
export interface PretrainedInfo {
  readonly dir: string;
  /** The checkpoint's content digest (checked against `<dir>.sha256`). */
  readonly digest: string;
  /** Closed-set steps it was trained for. */
  readonly closedSteps: number;
  /** Its closed mIoU (%) on the near-OOD test scenes, as `--pretrain` measured it. */
  readonly closedMIoU: number | null;
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Whether a pretrained checkpoint (with its digest file) exists at `dir`. */
export async function hasPretrained(dir = SHIPPED_PRETRAINED_DIR): Promise<boolean> {
  return (await exists(`${dir}.sha256`)) && exists(dir);
}

/**
 * Restores the backbone of `model` from the closed-set checkpoint at `dir`, after checking the
 * files' SHA-256 (loadCheckpoint) and the checkpoint's digest against `<dir>.sha256`.
 *
 * @throws DenseHybridError `IO` when the checkpoint or its digest file is missing (with the
 *   command that creates it), `MODEL_LOAD` for a digest mismatch or another architecture
 */
export async function loadPretrained(
  model: DenseHybridModel,
  dir = SHIPPED_PRETRAINED_DIR,
): Promise<PretrainedInfo> {
  let expected: string;
  try {
    expected = (await readFile(`${dir}.sha256`, 'utf8')).trim();
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `demo: expected a pretrained closed-set checkpoint at ${dir} with its digest in ${dir}.sha256 (create both with \`densehybrid demo --pretrain\`), got: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const ckpt = await loadCheckpoint(dir);
  try {
    if (ckpt.digest !== expected) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `demo: expected the pretrained checkpoint ${dir} to have digest ${expected} (${dir}.sha256), got ${ckpt.digest} (rerun \`densehybrid demo --pretrain\`)`,
      );
    }
    const backbone = new Map([...model.variables].filter(([name]) => name.startsWith('backbone.')));
    restoreVariables(backbone, ckpt);
    const pretrain = (ckpt.meta['pretrain'] ?? {}) as { closedSteps?: number };
    const miou = ckpt.meta['closedMIoU'];
    return {
      dir,
      digest: ckpt.digest,
      closedSteps: pretrain.closedSteps ?? 0,
      closedMIoU: typeof miou === 'number' ? miou : null,
    };
  } finally {
    disposeCheckpoint(ckpt);
  }
}
