import { BACKBONE_NAMES, createBackbone } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead, hybridScore } from '@densehybrid/core';
import { describeBackend } from '@densehybrid/tfjs-wasm-training';
import * as tf from '@tensorflow/tfjs-core';
import { defineCommand } from '../command.js';
import { formatNumber, yieldToEventLoop } from '../io.js';
import { BACKEND_FLAG, THREADS_FLAG, setupBackend } from './common.js';

/** `densehybrid bench`: the active backend and a short inference throughput measurement. */
export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'show the active backend and measure inference throughput (images/s) of a backbone',
  description: `Runs --iterations forward passes (after one warm-up) of the chosen backbone with the
DenseHybrid head and hybrid score on random images, reading results back as eval does.
The project's full benchmarks run with \`npm run bench\` (bench/*/index.mjs).`,
  flags: {
    backbone: {
      type: 'string',
      choices: BACKBONE_NAMES,
      default: 'tiny',
      placeholder: 'name',
      description: 'ladder-style DenseNet preset or DeepLabV3+ encoder',
    },
    size: { type: 'integer', default: 128, min: 16, description: 'square input side in pixels' },
    batchSize: { type: 'integer', default: 1, min: 1, description: 'images per forward pass' },
    iterations: { type: 'integer', default: 5, min: 1, description: 'timed forward passes' },
    classes: { type: 'integer', default: 19, min: 1, description: 'K known classes' },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const report = await setupBackend(ctx, flags.backend, flags.threads);
    const backbone = createBackbone({ name: flags.backbone, numClasses: flags.classes, seed: 1 });
    const model = createDenseHybridModel({
      backbone,
      head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 1 }),
    });
    try {
      const x = tf.randomUniform(
        [flags.batchSize, flags.size, flags.size, 3],
        0,
        1,
        'float32',
        1,
      ) as tf.Tensor4D;
      const once = async (): Promise<void> => {
        const s = tf.tidy(() => {
          const { logits, posteriorLogits } = model.predict(x);
          return hybridScore(logits, posteriorLogits);
        });
        await s.data();
        s.dispose();
      };
      const before = tf.memory().numTensors;
      await once();
      const times: number[] = [];
      const progress = ctx.progress({
        label: 'bench',
        total: flags.iterations,
        itemsPerStep: flags.batchSize,
      });
      for (let i = 0; i < flags.iterations; i++) {
        await yieldToEventLoop();
        if (ctx.signal.aborted) break;
        const t0 = performance.now();
        await once();
        times.push(performance.now() - t0);
        progress.tick();
      }
      progress.done();
      x.dispose();
      const leaked = tf.memory().numTensors - before + 1;
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)] ?? NaN;
      const ips = (flags.batchSize * 1000) / median;
      const gflops =
        (backbone.flops(flags.size, flags.size) * flags.batchSize) / (median / 1000) / 1e9;
      ctx.result(
        {
          backend: { name: report.name, line: describeBackend(report) },
          backbone: flags.backbone,
          size: flags.size,
          batchSize: flags.batchSize,
          medianMs: median,
          imagesPerSecond: ips,
          gflopsPerSecond: gflops,
          parameters: backbone.parameterCount(),
          leakedTensors: leaked,
        },
        [
          describeBackend(report),
          `${flags.backbone} ${flags.size}x${flags.size}, batch ${flags.batchSize}: median ${formatNumber(median)} ms/pass, ${formatNumber(ips)} images/s, ${formatNumber(gflops)} GFLOP/s (${formatNumber(backbone.parameterCount())} parameters)`,
          'full benchmarks: npm run bench',
        ],
      );
    } finally {
      model.dispose();
    }
  },
});
