import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkpointDigest,
  modelConfig,
  saveCheckpoint,
  type DenseHybridModel,
} from '@densehybrid/core';
import type { SceneSplit } from '@densehybrid/data-mixing';
import { OpenIoU } from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import {
  demoModel,
  demoScenes,
  trainClosedStage,
  type DemoHooks,
  type DemoOptions,
} from './pipeline.js';

/** `--pretrain`'s default closed-set steps (the demo's scenes and seed 0 otherwise). */
export const DEFAULT_PRETRAIN_STEPS = 4000;

/** Closed mIoU (%) of the model's argmax on a split (anomaly pixels ignored). */
async function closedMIoU(
  model: DenseHybridModel,
  split: SceneSplit,
  numClasses: number,
): Promise<number> {
  const iou = new OpenIoU({ numClasses });
  const px = split.size * split.size;
  for (let start = 0; start < split.count; start += 32) {
    const count = Math.min(32, split.count - start);
    const pixels = split.images.subarray(start * px * 3, (start + count) * px * 3);
    const images = tf.tidy(() =>
      tf.div(tf.tensor4d(Float32Array.from(pixels), [count, split.size, split.size, 3]), 255),
    ) as tf.Tensor4D;
    const argmax = tf.tidy(() => tf.argMax(model.predict(images).logits, -1));
    const closed = Uint8Array.from(await argmax.data());
    tf.dispose([images, argmax]);
    const labels = split.labels.subarray(start * px, (start + count) * px);
    iou.add(labels, closed, closed);
  }
  return Math.round((iou.compute({ average: 'nanmean' }).closedMIoU ?? NaN) * 10000) / 100;
}

/** What {@link runPretrain} returns. */
export interface PretrainResult {
  readonly completed: boolean;
  readonly dir: string;
  readonly digest?: string;
  readonly closedMIoU?: number;
  readonly bytes?: number;
  readonly seconds: number;
}

/**
 * `densehybrid demo --pretrain`: trains the demo's segmenter closed-set (`options.closedSteps`
 * steps on the demo's training scenes; resumable from `<dir>.training`), then writes its backbone
 * weights to the checkpoint `dir` and the digest to `<dir>.sha256`.
 */
export async function runPretrain(
  options: DemoOptions,
  dir: string,
  hooks: DemoHooks,
): Promise<PretrainResult> {
  const t0 = performance.now();
  const data = await demoScenes(options, hooks.log, hooks.glyphs);
  const { scenes } = data;
  const model = demoModel(scenes.numClasses, options.seed);
  const stateDir = `${dir}.training`;
  try {
    const result = await trainClosedStage(model, scenes, options, stateDir, hooks);
    const seconds = (): number => (performance.now() - t0) / 1000;
    if (result.aborted) {
      hooks.log(
        `interrupted: the training state is in ${stateDir}; run the same command to resume`,
      );
      return { completed: false, dir, seconds: seconds() };
    }
    const near = data.tracks.find((t) => t.name === 'near');
    const miou = near ? await closedMIoU(model, near.test, scenes.numClasses) : NaN;
    const backbone = new Map([...model.variables].filter(([name]) => name.startsWith('backbone.')));
    const saved = await saveCheckpoint(dir, {
      config: modelConfig(model),
      variables: backbone,
      meta: {
        classNames: scenes.classNames,
        dataset: 'demo-closed-set',
        pretrain: {
          closedSteps: options.closedSteps,
          closedLearningRate: options.closedLearningRate,
          batchSize: options.batchSize,
          seed: options.seed,
          scenes: options.scenes,
        },
        closedMIoU: miou,
        command: `densehybrid demo --pretrain --closed-steps ${options.closedSteps} --seed ${options.seed}`,
      },
    });
    const digest = await checkpointDigest(dir);
    await writeFileAtomic(`${dir}.sha256`, `${digest}\n`);
    await rm(stateDir, { recursive: true, force: true });
    return {
      completed: true,
      dir,
      digest,
      closedMIoU: miou,
      bytes: saved.variableBytes,
      seconds: seconds(),
    };
  } finally {
    model.dispose();
  }
}
