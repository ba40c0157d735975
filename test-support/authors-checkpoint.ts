/**
 * State dicts as the authors' PyTorch code saves them, built from this library's backbones (whose
 * variables carry the authors' `state_dict` names): PyTorch layout, BatchNorm step counters, the
 * LDN's auxiliary logits and the 2-way OOD head `logits_ood`. A test helper shared by relative
 * import; not part of any package.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegmentationModel } from '@densehybrid/backbones';
import type { TorchFixtureTensor } from './torch-zip.js';

/** A deterministic pseudo-random stream in [-1, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** The authors' 2-way OOD head on C channels (BN → ReLU → conv1×1 → 2), random with BN stats. */
export interface TwoWayHead {
  gamma: number[];
  beta: number[];
  mean: number[];
  variance: number[];
  w: number[][]; // [2][C]
  b: number[]; // [2]
}

export function twoWayHead(c: number, seed: number): TwoWayHead {
  const r = rng(seed);
  const vec = (f: () => number) => Array.from({ length: c }, f);
  return {
    gamma: vec(() => 1 + 0.3 * r()),
    beta: vec(() => 0.2 * r()),
    mean: vec(() => 0.5 * r()),
    variance: vec(() => 0.5 + 0.4 * r()),
    w: [vec(() => r()), vec(() => r())],
    b: [0.3 * r(), 0.3 * r()],
  };
}

/**
 * The authors' state_dict of a backbone (PyTorch layout, their key names) with the OOD head,
 * BN step counters and LDN auxiliary logits, as `torch.save(model.state_dict())` writes it.
 */
export function authorsStateDict(
  backbone: SegmentationModel,
  head: TwoWayHead | undefined,
  prefix = '',
  numClasses = backbone.numClasses,
): Record<string, TorchFixtureTensor> {
  const out: Record<string, TorchFixtureTensor> = {};
  for (const [name, v] of backbone.variables) {
    const t = tf.tidy(() => (v.rank === 4 ? tf.transpose(v, [3, 2, 0, 1]) : v.clone()));
    out[prefix + name] = { shape: t.shape, data: t.dataSync() as Float32Array };
    t.dispose();
    if (name.endsWith('.running_var'))
      out[prefix + name.replace(/running_var$/, 'num_batches_tracked')] = {
        dtype: 'I64',
        shape: [],
        data: [1000],
      };
  }
  // LDN's upsampling modules carry auxiliary logits (training only)
  out[`${prefix}upsample.upsample_layers.upsample_0.logits_aux.norm.weight`] = {
    shape: [4],
    data: [1, 2, 3, 4],
  };
  out[`${prefix}upsample.upsample_layers.upsample_0.logits_aux.conv.weight`] = {
    shape: [numClasses, 4, 1, 1],
    data: new Array(4 * numClasses).fill(0.5),
  };
  if (head) {
    const c = head.gamma.length;
    out[`${prefix}logits_ood.norm.weight`] = { shape: [c], data: head.gamma };
    out[`${prefix}logits_ood.norm.bias`] = { shape: [c], data: head.beta };
    out[`${prefix}logits_ood.norm.running_mean`] = { shape: [c], data: head.mean };
    out[`${prefix}logits_ood.norm.running_var`] = { shape: [c], data: head.variance };
    out[`${prefix}logits_ood.norm.num_batches_tracked`] = { dtype: 'I64', shape: [], data: [7] };
    out[`${prefix}logits_ood.conv.weight`] = {
      shape: [2, c, 1, 1],
      data: [...(head.w[0] as number[]), ...(head.w[1] as number[])],
    };
    out[`${prefix}logits_ood.conv.bias`] = { shape: [2], data: head.b };
  }
  return out;
}

/** Perturbs every float variable (BN statistics included, variances kept positive). */
export function perturb(model: SegmentationModel, seed: number): void {
  const r = rng(seed);
  for (const [name, v] of model.variables) {
    const values = Float32Array.from(v.dataSync(), (x) =>
      name.endsWith('running_var') ? 0.5 + Math.abs(r()) : x + 0.2 * r(),
    );
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
}
