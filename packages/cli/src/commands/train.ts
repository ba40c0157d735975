import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKBONE_NAMES, createBackbone } from '@densehybrid/backbones';
import {
  DEFAULT_SKIP_RULES,
  IMAGENET_SKIP_RULES,
  createDenseHybridModel,
  datasetPosteriorHead,
  formatAccounting,
  loadStateDict,
  modelConfig,
  saveModel,
  train,
} from '@densehybrid/core';
import type { DenseHybridModel, ModelGroup } from '@densehybrid/core';
import { mixedContentBatches, openDataset } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { recoverDirectory, sha256, writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { DEFAULT_SPLITS } from '../datasets.js';
import { formatNumber } from '../io.js';
import { checkResumeKey, readRecord } from '../resume.js';
import { parseGroups } from './import.js';
import {
  BACKEND_FLAG,
  THREADS_FLAG,
  TRAIN_DATASET_FLAG,
  ROOT_FLAG,
  setupBackend,
} from './common.js';

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/** The batches of `batches`, after `first()` has run (when train() asks for the first one). */
async function* startingWith<T>(
  first: () => Promise<void>,
  batches: AsyncIterable<T> | Iterable<T>,
): AsyncGenerator<T> {
  await first();
  yield* batches;
}

/**
 * `--init`: weights from a PyTorch state_dict (.pt/.pth/.safetensors) or a checkpoint or run
 * folder, every source key accounted for (mapped, converted, skipped by a named rule, or an
 * error), every model group covered unless `--init-allow-missing` names it.
 */
async function initWeights(
  model: DenseHybridModel,
  path: string,
  allowMissing: readonly ModelGroup[],
  log: (l: string) => void,
): Promise<void> {
  const r = await loadStateDict(model, path, {
    skip: [...DEFAULT_SKIP_RULES, ...IMAGENET_SKIP_RULES],
    allowMissing,
  }).catch((e: unknown) => {
    if (DenseHybridError.is(e) && e.code === 'MODEL_LOAD')
      throw new DenseHybridError('MODEL_LOAD', `--init ${path}: ${e.message}`, { cause: e });
    throw e;
  });
  const loaded = r.mapped + r.converted;
  log(`init: ${loaded} weights from ${r.source} (${r.missing.length} missing, 0 unused)`);
  for (const line of formatAccounting(r)) log(`init: ${line}`);
}

/** `densehybrid train`: DenseHybrid training on a benchmark with pasted negatives. */
export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a backbone with the DenseHybrid head and loss on a benchmark, pasting negatives',
  description: `Writes into --out (the run folder):
  state/         full training state every --checkpoint-every steps: a checkpoint folder
                 (weights, Adam moments, step, loss history) that --resume continues from
  model/         the final checkpoint eval, infer and calibrate read (weights only)
  run.json       the settings of this run (written when it starts)
Ctrl-C stops after the current step and saves the state; --resume continues bit-for-bit. A
resume with other settings than run.json's (seed, batch size, crop size, learning rate, steps,
data, …) is refused (exit 2) naming what differs; --fresh starts the run in --out over.

example:
  densehybrid train --dataset streethazards --root /data/sh --negatives ade20k \\
    --negatives-root /data/ADEChallengeData2016 --backbone small --out runs/sh`,
  flags: {
    dataset: TRAIN_DATASET_FLAG,
    root: ROOT_FLAG,
    split: {
      type: 'string',
      placeholder: 'split',
      description: 'training split (default: the benchmark train split)',
    },
    negatives: {
      type: 'string',
      choices: ['ade20k', 'none'],
      default: 'ade20k',
      description: 'source of pasted negatives',
    },
    negativesRoot: {
      type: 'path',
      placeholder: 'dir',
      description: 'ADE20k folder (ADEChallengeData2016); required with --negatives ade20k',
    },
    backbone: {
      type: 'string',
      choices: BACKBONE_NAMES,
      default: 'small',
      placeholder: 'name',
      description:
        'ladder-style DenseNet preset (tiny, small, densenet121 = LDN-121) or DeepLabV3+ encoder',
    },
    init: {
      type: 'path',
      placeholder: 'checkpoint|pt|safetensors',
      description:
        "initial weights: a checkpoint or run folder, or a PyTorch state_dict (.pt/.pth as torch.save writes it, .safetensors; e.g. the authors' models, torchvision ImageNet weights)",
    },
    initAllowMissing: {
      type: 'string',
      placeholder: 'groups',
      description:
        'model groups --init may lack (kept as initialised): encoder, decoder, classifier, head, backbone (= encoder,decoder); e.g. decoder,classifier,head for ImageNet weights',
    },
    out: {
      type: 'path',
      required: true,
      short: 'o',
      placeholder: 'run-dir',
      description: 'run folder',
    },
    resume: { type: 'boolean', description: 'continue the run in --out' },
    fresh: {
      type: 'boolean',
      description: 'start over in --out, discarding its training state and model',
    },
    steps: { type: 'integer', default: 1000, min: 1, description: 'optimisation steps' },
    batchSize: { type: 'integer', default: 4, min: 1, description: 'images per step' },
    cropSize: {
      type: 'integer',
      default: 512,
      min: 16,
      description: 'square crop side (paper: 768 for LDN)',
    },
    learningRate: {
      type: 'number',
      default: 1e-4,
      exclusiveMin: 0,
      description: 'head learning rate at step 0 (backbone ×0.25), cosine decay',
    },
    seed: {
      type: 'integer',
      default: 1,
      min: 0,
      description: 'seed of data order, augmentation and initialisation',
    },
    classes: {
      type: 'integer',
      min: 1,
      max: 254,
      description: 'folder adapter: K known classes (labels 0..K-1, 255 ignore)',
    },
    workers: {
      type: 'integer',
      default: 0,
      min: 0,
      description:
        'worker threads decoding and mixing images (0: on the main thread, sharp still decodes in the background)',
    },
    checkpointEvery: {
      type: 'integer',
      default: 100,
      min: 1,
      description: 'steps between training-state saves',
    },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const name = flags.dataset;
    const split = flags.split ?? DEFAULT_SPLITS[name].train;
    const statePath = join(flags.out, 'state');
    const runPath = join(flags.out, 'run.json');
    if (flags.resume && flags.fresh) {
      throw new CliUsageError(
        '--fresh: expected either --resume (continue the run in --out) or --fresh (start it over), got both',
      );
    }
    // a state whose replace was interrupted between its two renames is still there
    const hasState =
      (await exists(statePath)) ||
      (await recoverDirectory(statePath, 'checkpoint.json')) !== undefined;
    if (!flags.resume && !flags.fresh && hasState) {
      throw new DenseHybridError(
        'IO',
        `--out: expected a new run folder, got ${flags.out} with a training state; pass --resume to continue it, --fresh to start it over, or choose another --out`,
      );
    }
    if (flags.resume && !hasState) {
      throw new DenseHybridError(
        'IO',
        `--resume: expected ${statePath} from an earlier run, got nothing; drop --resume to start a new run`,
      );
    }
    if (flags.negatives === 'ade20k' && flags.negativesRoot === undefined) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        '--negatives-root: expected the ADE20k folder with --negatives ade20k, got nothing (or pass --negatives none)',
      );
    }
    if (name === 'folder' && flags.classes === undefined) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        '--classes: expected the number of known classes K with --dataset folder, got nothing',
      );
    }
    const dataset = await openDataset(name, flags.root, split, {
      labelKind: 'semantic',
      ...(flags.classes !== undefined ? { numClasses: flags.classes } : {}),
    });
    if (dataset.labelKind !== 'semantic' || dataset.numClasses < 1) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `train: expected a split with semantic labels (K classes), got ${dataset.name} (${dataset.labelKind})`,
      );
    }
    // everything that determines the run (run.json without the backend): a resume must match it
    const key = {
      format: 'densehybrid/run',
      version: 2,
      dataset: name,
      split,
      root: flags.root,
      classes: flags.classes ?? null,
      samples: sha256(
        Array.from({ length: dataset.size }, (_, i) => `${dataset.sampleId(i)}\n`).join(''),
      ),
      negatives: flags.negatives,
      negativesRoot: flags.negativesRoot ?? null,
      backbone: flags.backbone,
      init: flags.init ?? null,
      // only when given: run.json files of earlier runs have no such field
      ...(flags.initAllowMissing !== undefined
        ? { initAllowMissing: parseGroups(flags.initAllowMissing, 'init-allow-missing') }
        : {}),
      steps: flags.steps,
      batchSize: flags.batchSize,
      cropSize: flags.cropSize,
      learningRate: flags.learningRate,
      seed: flags.seed,
    };
    if (flags.resume) {
      const stored = await readRecord(runPath);
      if (stored !== undefined) {
        const storedKey = { ...(stored as Record<string, unknown> | null) };
        delete storedKey['backend']; // the same run may continue on another backend
        checkResumeKey(
          `--resume: --out ${flags.out} holds the state`,
          stored === null ? null : storedKey,
          key,
          "resume with that run's flags (its run.json), or pass --fresh to start over",
        );
      }
    }
    const { ade20kNegatives } = await import('@densehybrid/data-mixing');
    const negatives =
      flags.negatives === 'ade20k' && flags.negativesRoot !== undefined
        ? await ade20kNegatives({ root: flags.negativesRoot })
        : undefined;
    const report = await setupBackend(ctx, flags.backend, flags.threads);
    const runInfo = { ...key, backend: report.name };
    // only a run that starts (train() has checked its options and the state) writes run.json;
    // a resumed run keeps the record of the run it continues
    const begin = async (): Promise<void> => {
      if (flags.fresh)
        for (const d of [statePath, join(flags.out, 'model')])
          await rm(d, { recursive: true, force: true });
      if (!flags.resume || (await readRecord(runPath)) === undefined)
        await writeFileAtomic(runPath, `${JSON.stringify(runInfo, null, 2)}\n`);
    };
    const backbone = createBackbone({
      name: flags.backbone,
      numClasses: dataset.numClasses,
      seed: flags.seed,
    });
    const model = createDenseHybridModel({
      backbone,
      head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: flags.seed }),
    });
    try {
      if (flags.init !== undefined && !flags.resume)
        await initWeights(
          model,
          flags.init,
          parseGroups(flags.initAllowMissing, 'init-allow-missing'),
          ctx.log,
        );
      const progress = ctx.progress({
        label: 'train',
        total: flags.steps,
        itemsPerStep: flags.batchSize,
      });
      let started = false;
      const stream = mixedContentBatches({
        dataset,
        ...(negatives ? { negatives } : {}),
        batchSize: flags.batchSize,
        cropSize: flags.cropSize,
        seed: flags.seed,
        negativeSize: Math.max(8, Math.round(flags.cropSize / 2)),
        steps: flags.steps,
        workers: flags.workers,
      });
      const result = await train({
        model,
        data: (start) => startingWith(begin, stream.data(start)),
        steps: flags.steps,
        learningRate: flags.learningRate,
        checkpointPath: statePath,
        checkpointEvery: flags.checkpointEvery,
        resume: flags.resume,
        resumeKey: key,
        signal: ctx.signal,
        // the state is a model checkpoint too (config and class names as in model/)
        config: modelConfig(model),
        meta: { ...runInfo, classNames: dataset.classNames },
        onProgress: (p) => {
          if (!started) {
            started = true;
            if (p.step > 1) progress.tick(p.step - 1);
          }
          const info: Record<string, number> = {};
          for (const [k, v] of Object.entries(p.loss)) info[k === 'total' ? 'loss' : k] = v;
          progress.tick(1, info);
        },
      })
        .catch((e: unknown) => {
          // train() refuses a state of other settings (run.json was missing or edited): exit 2
          if (flags.resume && DenseHybridError.is(e) && e.code === 'INVALID_OPTION')
            throw new CliUsageError(e.message);
          throw e;
        })
        .finally(() => stream.close());
      progress.done();
      if (result.aborted) {
        throw new DenseHybridError(
          'INTERRUPTED',
          `train: stopped at step ${result.step}/${flags.steps}; state saved in ${statePath}, continue with --resume`,
        );
      }
      await saveModel(join(flags.out, 'model'), model, {
        classNames: dataset.classNames,
        dataset: name,
        step: result.step,
      });
      const last = result.history.at(-1)?.loss ?? {};
      ctx.result(
        {
          out: flags.out,
          step: result.step,
          startStep: result.startStep,
          imagesPerSecond: result.imagesPerSecond,
          seconds: result.seconds,
          loss: last,
        },
        [
          `trained ${result.step - result.startStep} steps (${formatNumber(result.imagesPerSecond)} images/s); final loss ${formatNumber(last['total'] ?? NaN)}`,
          `checkpoint: ${join(flags.out, 'model')}  (next: densehybrid calibrate / eval --checkpoint ${flags.out})`,
        ],
      );
    } finally {
      model.dispose();
    }
  },
});
