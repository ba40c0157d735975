import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  AUTHORS_ARCHITECTURES,
  MODEL_GROUPS,
  formatAccounting,
  importAuthorsCheckpoint,
} from '@densehybrid/core';
import type { ModelGroup } from '@densehybrid/core';
import { BACKBONE_NAMES } from '@densehybrid/backbones';
import { CITYSCAPES_CLASSES, STREET_HAZARDS_CLASSES } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { BACKEND_FLAG } from './common.js';

/** Named class lists `--classes` accepts besides K and comma-separated names. */
const CLASS_SETS: Readonly<Record<string, { names: readonly string[]; dataset: string }>> = {
  streethazards: { names: STREET_HAZARDS_CLASSES, dataset: 'streethazards' },
  cityscapes: { names: CITYSCAPES_CLASSES, dataset: 'cityscapes' },
};

/**
 * `--classes`: `streethazards` / `cityscapes` (their class names), a count K, or K names
 * separated by commas. @internal
 */
function parseClasses(flag: string): { classes: number | string[]; dataset?: string } {
  const set = CLASS_SETS[flag.toLowerCase()];
  if (set) return { classes: [...set.names], dataset: set.dataset };
  if (/^\d+$/.test(flag)) {
    const k = Number(flag);
    if (k >= 1 && k <= 254) {
      // the two benchmarks' class counts get their names
      if (k === STREET_HAZARDS_CLASSES.length) return { classes: [...STREET_HAZARDS_CLASSES] };
      if (k === CITYSCAPES_CLASSES.length) return { classes: [...CITYSCAPES_CLASSES] };
      return { classes: k };
    }
  } else {
    const names = flag.split(',').map((s) => s.trim());
    if (names.length >= 2 && names.every((n) => n !== '')) return { classes: names };
  }
  throw new CliUsageError(
    `--classes: expected K (1…254), K comma-separated names, or one of ${Object.keys(CLASS_SETS).join(', ')}, got ${JSON.stringify(flag)}`,
  );
}

/**
 * `--init-allow-missing` / `--allow-missing`: comma-separated model groups. @internal
 */
export function parseGroups(flag: string | undefined, name: string): ModelGroup[] {
  if (flag === undefined || flag.trim() === '') return [];
  const groups = flag.split(',').map((s) => s.trim());
  const known: readonly string[] = MODEL_GROUPS;
  const out: ModelGroup[] = [];
  for (const g of groups) {
    // `backbone` stands for the encoder and the decoder
    if (g === 'backbone') out.push('encoder', 'decoder');
    else if (known.includes(g)) out.push(g as ModelGroup);
    else
      throw new CliUsageError(
        `--${name}: expected comma-separated groups of ${[...MODEL_GROUPS, 'backbone'].join(', ')}, got ${JSON.stringify(g)}`,
      );
  }
  return [...new Set(out)];
}

/** `densehybrid import`: the authors' PyTorch checkpoints as DenseHybrid model files. */
export const importCommand = defineCommand({
  name: 'import',
  summary: "convert the authors' PyTorch checkpoints (.pt, .safetensors) into a model folder",
  description: `Reads a PyTorch state_dict (torch.save's zip format, or the legacy format of
PyTorch < 1.6, read without Python: the pickle is never run, only state_dict contents are
accepted) or a .safetensors file, maps every key onto the architecture's weights, converts the
2-way OOD head (logits_ood) into the 1-logit dataset-posterior head, and writes a model folder
that infer, eval, calibrate and train --init read. Prints how many keys were mapped, converted
and skipped (by rule); a key that maps to nothing, a shape that does not fit, or a part of the
model the file lacks is an error.

The authors' releases (github.com/matejgrcic/DenseHybrid):
  LDN-121 fine-tuned on StreetHazards   --arch ldn121 --classes streethazards   (K = 12)
  LDN-121 SMIYC submission              --arch ldn121 --classes cityscapes      (K = 19)
  DeepLabV3+ WRN-38 for Fishyscapes     --arch deeplabv3plus-wrn38 --classes cityscapes
  closed-set inits (no OOD head): add --allow-missing head

example:
  densehybrid import ldn121_streethazards.pt --arch ldn121 --classes streethazards --out models/sh
  densehybrid infer --checkpoint models/sh photo.jpg --out out/`,
  flags: {
    arch: {
      type: 'string',
      required: true,
      choices: [
        ...AUTHORS_ARCHITECTURES,
        ...BACKBONE_NAMES.filter((n) => !(AUTHORS_ARCHITECTURES as readonly string[]).includes(n)),
      ],
      placeholder: 'name',
      description:
        'architecture: ldn121 (LadderDenseNetTH), deeplabv3plus-wrn38 (DeepWV3PlusTH), or a backbone name with the same keys',
    },
    classes: {
      type: 'string',
      required: true,
      placeholder: 'K|names|set',
      description:
        'known classes: streethazards (12), cityscapes (19), a count K, or comma-separated names',
    },
    out: {
      type: 'path',
      required: true,
      short: 'o',
      placeholder: 'checkpoint-dir',
      description: 'model folder to write (replaced atomically)',
    },
    allowMissing: {
      type: 'string',
      placeholder: 'groups',
      description:
        'model groups the file may lack, kept as initialised: encoder, decoder, classifier, head (e.g. head for a closed-set model)',
    },
    stateDictKey: {
      type: 'string',
      placeholder: 'key',
      description:
        "key of the saved dict holding the state_dict (default: the dict itself, else 'state_dict', 'model', …)",
    },
    dataset: {
      type: 'string',
      placeholder: 'name',
      description: 'training dataset recorded in the model meta (default from --classes)',
    },
    seed: {
      type: 'integer',
      default: 0,
      min: 0,
      description: 'initialisation seed of groups allowed to be missing',
    },
    backend: {
      ...BACKEND_FLAG,
      description: 'TensorFlow.js backend holding the weights while converting (default: cpu)',
    },
  },
  positionals: [
    {
      name: 'file.pt|file.safetensors',
      description: 'the checkpoint',
      required: true,
    },
  ],
  async run(flags, ctx) {
    const [file, ...rest] = ctx.positionals;
    if (file === undefined || rest.length > 0) {
      throw new CliUsageError(
        `<file.pt|file.safetensors>: expected one checkpoint file, got ${ctx.positionals.length}`,
      );
    }
    const path = resolve(ctx.io.cwd, file);
    if (!(await stat(path).catch(() => undefined))?.isFile()) {
      throw new DenseHybridError(
        'IO',
        `import: expected a checkpoint file, got ${file} (not a file)`,
      );
    }
    const { classes, dataset } = parseClasses(flags.classes);
    // the weights only pass through tensors: the plain JS backend is enough (and quiet: its
    // "training will be slow" warning does not apply)
    await initBackend({ backend: flags.backend ?? 'cpu', log: ctx.debug, debug: ctx.debug });
    const result = await importAuthorsCheckpoint({
      source: path,
      arch: flags.arch,
      classes,
      out: flags.out,
      allowMissing: parseGroups(flags.allowMissing, 'allow-missing'),
      seed: flags.seed,
      ...(flags.stateDictKey !== undefined ? { stateDictKey: flags.stateDictKey } : {}),
      ...((flags.dataset ?? dataset) !== undefined
        ? { meta: { dataset: flags.dataset ?? dataset } }
        : {}),
    });
    ctx.result(
      {
        out: flags.out,
        arch: result.arch,
        numClasses: result.numClasses,
        classNames: result.classNames,
        sourceKeys: result.sourceKeys,
        mapped: result.mapped,
        converted: result.converted,
        skipped: result.skipped,
        unmapped: 0,
        strippedPrefix: result.strippedPrefix,
        groups: result.groups,
        missingGroups: result.missingGroups,
      },
      [
        ...formatAccounting(result),
        `model: ${flags.out}  (${result.arch}, K = ${result.numClasses}; next: densehybrid infer --checkpoint ${flags.out} <images> --out <dir>)`,
      ],
    );
  },
});
