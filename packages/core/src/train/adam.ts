import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL } from '@densehybrid/tfjs-wasm-training';

/** A set of variables that share a learning-rate factor (e.g. backbone: ¼, head: 1). */
export interface ParameterGroup {
  /** Name used in checkpoints, e.g. `backbone`. */
  readonly name: string;
  /** Trainable variables by stable name (the names checkpoints use). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** Multiplies the scheduled learning rate. */
  readonly learningRateFactor: number;
}

/** Adam hyper-parameters. */
export interface AdamOptions {
  /** @default 0.9 */
  readonly beta1?: number;
  /** @default 0.999 */
  readonly beta2?: number;
  /** @default 1e-7 (the authors' LDN setting) */
  readonly epsilon?: number;
}

/** Default {@link AdamOptions}. */
export const DEFAULT_ADAM_OPTIONS = {
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
} as const satisfies Required<AdamOptions>;

/**
 * Adam with per-group learning rates whose whole state (first and second moments, step count)
 * can be read and restored exactly, so that a resumed run continues bit-for-bit.
 * Internal to the training loop.
 */
export class GroupAdam {
  readonly groups: readonly ParameterGroup[];
  private readonly o: Required<AdamOptions>;
  private readonly slots: {
    readonly key: string;
    readonly variable: tf.Variable;
    readonly m: tf.Variable;
    readonly v: tf.Variable;
    readonly factor: number;
  }[] = [];
  /** Number of updates applied so far. */
  iterations = 0;

  constructor(groups: readonly ParameterGroup[], options: AdamOptions = {}) {
    this.groups = groups;
    this.o = { ...DEFAULT_ADAM_OPTIONS, ...options };
    for (const g of groups) {
      for (const [key, variable] of g.variables) {
        this.slots.push({
          key: `${g.name}.${key}`,
          variable,
          m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
          v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
          factor: g.learningRateFactor,
        });
      }
    }
  }

  /**
   * One update with base learning rate `lr` (times each group's factor). `grads` keyed by
   * the tfjs variable name (`tf.variableGrads`' keys); disposed by the caller.
   *
   * m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
   * w ← w − lr·(m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)   (PyTorch's form).
   * Where the backend has the fused `DenseHybridAdam` kernel (wasm), one kernel per variable,
   * bit-identical to the composed ops.
   */
  step(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    this.iterations++;
    const t = this.iterations;
    const { beta1, beta2, epsilon } = this.o;
    const c1 = 1 - Math.pow(beta1, t);
    const c2 = 1 - Math.pow(beta2, t);
    const fused = tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
    const f = Math.fround;
    tf.tidy(() => {
      for (const { variable, m, v, factor } of this.slots) {
        const groupLr = lr * factor;
        const grad = grads[variable.name];
        if (!grad) continue;
        if (fused && grad.dtype === 'float32' && variable.dtype === 'float32') {
          // One kernel, bit-identical to the ops below (same float32 constants and order).
          const [w1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, { w: variable, m, v, g: grad }, {
            beta1: f(beta1),
            oneMinusBeta1: f(1 - beta1),
            beta2: f(beta2),
            oneMinusBeta2: f(1 - beta2),
            bias1: f(c1),
            bias2: f(c2),
            epsilon: f(epsilon),
            lr: f(groupLr),
          } as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
          m.assign(m1);
          v.assign(v1);
          variable.assign(w1);
          continue;
        }
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        const update = tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), epsilon));
        variable.assign(tf.sub(variable, tf.mul(update, groupLr)));
      }
    });
  }

  /** The moment variables by stable name (`<group>.<variable>/m`, `…/v`), for checkpoints. */
  stateVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const s of this.slots) {
      out.set(`${s.key}/m`, s.m);
      out.set(`${s.key}/v`, s.v);
    }
    return out;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.length = 0;
  }
}
