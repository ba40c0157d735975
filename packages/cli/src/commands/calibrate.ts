import {
  AnomalyMetricsAccumulator,
  BENCHMARK_PROTOCOLS,
  DenseHybridError,
  THRESHOLD_RULES,
  binaryAnomalyLabels,
  calibrateThreshold,
} from '@densehybrid/metrics-openiou';
import type { ThresholdRule } from '@densehybrid/metrics-openiou';
import { loadModel, updateModelMeta } from '@densehybrid/core';
import type { StoredThreshold } from '@densehybrid/core';
import { openDataset } from '@densehybrid/data-mixing';
import { defineCommand } from '../command.js';
import { DEFAULT_SPLITS, protocolDefaults } from '../datasets.js';
import { yieldToEventLoop } from '../io.js';
import {
  BACKEND_FLAG,
  THREADS_FLAG,
  DATASET_FLAG,
  FPR_RULE_FLAG,
  SCORE_FLAG,
  setupBackend,
  CHECKPOINT_FLAG,
  ROOT_FLAG,
} from './common.js';

/** `densehybrid calibrate`: the open-set threshold at a target TPR, stored in the checkpoint. */
export const calibrateCommand = defineCommand({
  name: 'calibrate',
  summary: 'find the threshold at a target TPR on a calibration set and store it in the checkpoint',
  description: `Scores every image of the calibration split (streaming, float16 histogram), picks the
threshold at which --tpr of the anomaly pixels are detected and rewrites the checkpoint's meta
atomically. eval and infer then use it for open-set maps. By default it calibrates as the
benchmark's open-set protocol (the DenseHybrid authors' evaluate_osr.py): the first ROC point
with TPR > --tpr (--fpr-rule above), its score as the threshold, unknown when score > threshold
(--threshold-rule greater); the rule is stored with the threshold.

example:
  densehybrid calibrate --checkpoint runs/sh --dataset streethazards --root /data/sh --split t6`,
  flags: {
    checkpoint: CHECKPOINT_FLAG,
    dataset: DATASET_FLAG,
    root: ROOT_FLAG,
    split: {
      type: 'string',
      placeholder: 'split',
      description: 'calibration split; needs anomaly labels (default: the benchmark test split)',
    },
    score: SCORE_FLAG,
    tpr: {
      type: 'number',
      min: 0,
      max: 1,
      description: `target true-positive rate (${protocolDefaults('tpr')})`,
    },
    fprRule: {
      ...FPR_RULE_FLAG,
      description: `how the operating point at --tpr is picked (${protocolDefaults('calibrationFprRule')}, the authors' calibration)`,
    },
    thresholdRule: {
      type: 'string',
      choices: THRESHOLD_RULES,
      placeholder: 'rule',
      description: `greater: unknown where score > threshold (the threshold is the operating point's score), greater-or-equal: >= (${protocolDefaults('thresholdRule')})`,
    },
    limit: { type: 'integer', min: 1, description: 'only the first N images' },
    labelKind: {
      type: 'string',
      choices: ['anomaly', 'open-set'],
      default: 'anomaly',
      description: 'folder adapter: what labels mean',
    },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const name = flags.dataset;
    const bench = BENCHMARK_PROTOCOLS[name];
    const split =
      flags.split ?? (bench.crossFolds ? bench.crossFolds[1] : DEFAULT_SPLITS[name].eval);
    await setupBackend(ctx, flags.backend, flags.threads);
    const detector = await loadModel(flags.checkpoint);
    let result;
    let images = 0;
    const fprRule = flags.fprRule ?? bench.calibrationFprRule;
    const tpr = flags.tpr ?? bench.tpr;
    const thresholdRule: ThresholdRule = flags.thresholdRule ?? bench.thresholdRule;
    try {
      const dataset = await openDataset(name, flags.root, split, {
        labelKind: flags.labelKind,
        numClasses: detector.numClasses,
        classNames: detector.classNames,
      });
      if (dataset.labelKind === 'semantic') {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `calibrate: expected a split with anomaly labels, got ${dataset.name} (semantic labels only); pick a test split`,
        );
      }
      const acc = new AnomalyMetricsAccumulator({
        mode: 'histogram',
        perImage: false,
        tpr,
        fprRule,
        thresholdRule,
      });
      const n = Math.min(dataset.size, flags.limit ?? Infinity);
      const progress = ctx.progress({ label: 'calibrate', total: n });
      for (let i = 0; i < n; i++) {
        await yieldToEventLoop();
        if (ctx.signal.aborted)
          throw new DenseHybridError(
            'INTERRUPTED',
            `calibrate: stopped after ${i}/${n} images; nothing was written`,
          );
        const sample = await dataset.load(i);
        const labels = sample.label ? binaryAnomalyLabels(sample.label.data, dataset) : null;
        if (!labels)
          throw new DenseHybridError(
            'DATASET_LAYOUT',
            `calibrate: expected a label for ${sample.id}, got none`,
          );
        const frame = await detector.score(sample.image, flags.score);
        acc.add(frame.scores, labels);
        images++;
        progress.tick();
      }
      progress.done();
      result = calibrateThreshold(acc, { tpr, fprRule, thresholdRule });
      // the rule is recorded beside the core fields; eval notes when it applies another
      const stored: StoredThreshold = {
        value: result.threshold,
        score: flags.score,
        tpr,
        tprReached: result.tprReached,
        fpr: result.fpr,
        fprRule,
        thresholdRule,
        calibratedOn: `${dataset.name} (${images} images)`,
      };
      detector.dispose();
      const dir = await updateModelMeta(flags.checkpoint, (meta) => ({
        ...meta,
        threshold: stored,
      }));
      ctx.result({ checkpoint: dir, threshold: stored }, [
        `threshold ${result.threshold} (${flags.score}; unknown when score ${thresholdRule === 'greater' ? '>' : '>='} threshold)`,
        `TPR ${result.tprReached.toFixed(4)} FPR ${result.fpr.toFixed(4)} on ${dataset.name}, ${images} images; stored in ${dir}`,
      ]);
    } finally {
      detector.dispose();
    }
  },
});
