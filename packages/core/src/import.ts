/**
 * The authors' trained models in this library: PyTorch `state_dict`s (`.pt` / `.pth` as
 * `torch.save` writes them, or `.safetensors`) mapped onto a DenseHybrid model, key by key, with
 * every source key accounted for — mapped, converted (the 2-way OOD head), skipped by a named
 * rule, or an error — and written as a normal model file.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKBONE_NAMES,
  createBackbone,
  decodeSafetensor,
  ladderDenseNet,
  readTorchCheckpoint,
  type BackboneName,
  type SafetensorsEntry,
  type SafetensorsFile,
  type SegmentationModel,
} from '@densehybrid/backbones';
import { DenseHybridError, describeValue, listNames } from '@densehybrid/metrics-openiou';
import { sha256 } from '@densehybrid/metrics-openiou/node';
import { disposeCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { datasetPosteriorHead } from './head.js';
import { saveModel, type ModelMeta } from './model-file.js';
import { createDenseHybridModel, type DenseHybridModel } from './train/model.js';

/**
 * The authors' architectures {@link importAuthorsCheckpoint} knows: `ldn121` (their
 * `LadderDenseNetTH`: StreetHazards K = 12, SMIYC K = 19) and `deeplabv3plus-wrn38` (their
 * `DeepWV3PlusTH`, Fishyscapes, K = 19).
 *
 * @example
 * ```ts
 * AUTHORS_ARCHITECTURES.includes('ldn121'); // true
 * ```
 */
export const AUTHORS_ARCHITECTURES = ['ldn121', 'deeplabv3plus-wrn38'] as const;
/** One of {@link AUTHORS_ARCHITECTURES}. */
export type AuthorsArchitecture = (typeof AUTHORS_ARCHITECTURES)[number];

/**
 * Parts of a DenseHybrid model, for the accounting of an import or an initialisation:
 * `encoder` (DenseNet / ResNet / WideResNet trunk), `decoder` (SPP and upsampling, ASPP and the
 * DeepLab decoder), `classifier` (the K-way logits layer), `head` (the dataset-posterior head).
 *
 * @example
 * ```ts
 * MODEL_GROUPS; // ['encoder', 'decoder', 'classifier', 'head']
 * ```
 */
export const MODEL_GROUPS = ['encoder', 'decoder', 'classifier', 'head'] as const;
/** One of {@link MODEL_GROUPS}. */
export type ModelGroup = (typeof MODEL_GROUPS)[number];

/** Backbone variable names (without `backbone.`) of each group; the rest is the encoder. */
const CLASSIFIER = /^(logits\.|final\.6\.)/;
const DECODER = /^(spp\.|upsample\.|aspp\.|bot_aspp\.|bot_fine\.|final\.)/;

/**
 * The group of a DenseHybrid model variable (`backbone.<name>` or `head.<name>`).
 *
 * @example
 * ```ts
 * modelGroupOf('backbone.logits.conv.weight'); // 'classifier'
 * modelGroupOf('backbone.backbone.features.conv0.weight'); // 'encoder'
 * modelGroupOf('head.posterior_head.bn.weight'); // 'head'
 * ```
 */
export function modelGroupOf(name: string): ModelGroup {
  if (name.startsWith('head.')) return 'head';
  const n = name.startsWith('backbone.') ? name.slice('backbone.'.length) : name;
  if (CLASSIFIER.test(n)) return 'classifier';
  if (DECODER.test(n)) return 'decoder';
  return 'encoder';
}

/** A named rule that skips source keys (reported with its count, never silently). */
export interface SkipRule {
  readonly name: string;
  readonly pattern: RegExp;
  /** Why these keys are not needed. */
  readonly reason: string;
}

/**
 * Source keys a model does not need: BatchNorm's step counters and the LDN's auxiliary logits of
 * its upsampling modules (deep supervision during training).
 *
 * @example
 * ```ts
 * DEFAULT_SKIP_RULES.map((r) => r.name); // ['num_batches_tracked', 'logits_aux']
 * ```
 */
export const DEFAULT_SKIP_RULES: readonly SkipRule[] = [
  {
    name: 'num_batches_tracked',
    pattern: /(^|\.)num_batches_tracked$/,
    reason: 'BatchNorm step counter (unused with momentum)',
  },
  {
    name: 'logits_aux',
    pattern: /(^|\.)logits_aux\./,
    reason: "LDN upsampling modules' auxiliary logits (training only)",
  },
];

/**
 * Rules for ImageNet initialisations (torchvision DenseNet / ResNet, WideResNet-38): their
 * 1000-way classifier and DenseNet's final `norm5`, which the segmentation models do not have.
 *
 * @example
 * ```ts
 * await loadStateDict(model, 'densenet121.pth', { skip: [...DEFAULT_SKIP_RULES, ...IMAGENET_SKIP_RULES], allowMissing: ['decoder', 'classifier', 'head'] });
 * ```
 */
export const IMAGENET_SKIP_RULES: readonly SkipRule[] = [
  {
    name: 'imagenet-classifier',
    pattern: /^(classifier|fc|classifier\.fc)\.(weight|bias)$/,
    reason: 'ImageNet 1000-way classifier',
  },
  {
    name: 'imagenet-final-norm',
    pattern: /^(features\.norm5|bn_out)\./,
    reason: "the ImageNet network's final BatchNorm before its classifier",
  },
];

/** Options of {@link loadStateDict}. */
export interface LoadStateDictOptions {
  /** Rules that skip source keys (applied after the `module.` prefix is removed). @default DEFAULT_SKIP_RULES */
  readonly skip?: readonly SkipRule[];
  /**
   * Groups that may be absent from the source (or partly present) and keep their current
   * values; any other group not fully covered is an error. Source keys of such a group with
   * another shape (a classifier for another K) are skipped under the rule
   * `other-shape-in-allowed-group` instead of failing.
   * @default []
   */
  readonly allowMissing?: readonly ModelGroup[];
  /**
   * Prefix removed from every source key first; `'auto'`: DataParallel's `module.` when every
   * key carries it.
   * @default 'auto'
   */
  readonly stripPrefix?: string;
  /** Which key of a saved dict holds the state_dict (see `readTorchCheckpoint`). @default 'auto' */
  readonly stateDictKey?: string;
  /** What to call a source given as bytes in error messages. @default 'buffer' */
  readonly sourceName?: string;
}

/** Default options of {@link loadStateDict}. */
export const DEFAULT_LOAD_STATE_DICT_OPTIONS = {
  skip: DEFAULT_SKIP_RULES,
  allowMissing: [],
  stripPrefix: 'auto',
  stateDictKey: 'auto',
} as const satisfies LoadStateDictOptions;

/** How many model variables of a group were loaded. */
export interface GroupCount {
  readonly loaded: number;
  readonly total: number;
}

/** Where every source key went ({@link loadStateDict}, {@link importAuthorsCheckpoint}). */
export interface StateDictAccounting {
  /** Source keys (tensors and other entries). */
  readonly sourceKeys: number;
  /** Keys assigned to a model variable one-to-one. */
  readonly mapped: number;
  /** Keys converted: the authors' 2-way OOD head `logits_ood.*` → the 1-logit posterior head. */
  readonly converted: number;
  /** Keys skipped, by rule name (every rule listed, 0 included). */
  readonly skipped: Readonly<Record<string, number>>;
  /** The prefix removed from source keys (`module.` or ''). */
  readonly strippedPrefix: string;
  /** The prefix put before source keys to name model variables (`backbone.`, …). */
  readonly addedPrefix: string;
  /** Model variables loaded per group. */
  readonly groups: Readonly<Record<ModelGroup, GroupCount>>;
  /** Groups not fully loaded (allowed by `allowMissing`; they keep their values). */
  readonly missingGroups: readonly ModelGroup[];
  /** Model variables not loaded (in allowed groups). */
  readonly missing: readonly string[];
  /** What the source was: `pytorch-zip`, `safetensors` or `checkpoint`. */
  readonly sourceFormat: string;
  /** What was read: the file, the checkpoint folder (a run folder's `model/`), or `buffer`. */
  readonly source: string;
}

/** One source tensor, in the layout it is stored in. */
interface SourceTensor {
  readonly name: string;
  /** PyTorch (conv OIHW) or tfjs (conv HWIO) layout. */
  readonly layout: 'torch' | 'tfjs';
  readonly shape: readonly number[];
  /** Float32 values in the stored layout. */
  read(): Float32Array;
}

/** The source's tensors, and the names of entries that are no tensors. */
interface Source {
  readonly format: string;
  readonly path: string;
  readonly tensors: readonly SourceTensor[];
  readonly others: readonly string[];
}

const toHwio = (s: readonly number[]): number[] =>
  s.length === 4 ? [s[2] as number, s[3] as number, s[1] as number, s[0] as number] : [...s];
const toOihw = (s: readonly number[]): number[] =>
  s.length === 4 ? [s[3] as number, s[2] as number, s[0] as number, s[1] as number] : [...s];

function fromSafetensors(
  file: SafetensorsFile,
  format: string,
  others: readonly string[],
  path: string,
): Source {
  return {
    format,
    path,
    others,
    tensors: [...file.tensors.values()].map((e: SafetensorsEntry) => ({
      name: e.name,
      layout: 'torch',
      shape: e.shape,
      read: () => {
        const v = decodeSafetensor(e);
        return v instanceof Float32Array ? v : Float32Array.from(v);
      },
    })),
  };
}

function fromCheckpoint(ckpt: Checkpoint): Source {
  return {
    format: 'checkpoint',
    path: ckpt.dir,
    others: [],
    tensors: [...ckpt.variables].map(([name, t]) => ({
      name,
      layout: 'tfjs',
      shape: t.shape,
      read: () => t.dataSync() as Float32Array,
    })),
  };
}

const HEAD_BN: Readonly<Record<string, string>> = {
  'logits_ood.norm.weight': 'head.posterior_head.bn.weight',
  'logits_ood.norm.bias': 'head.posterior_head.bn.bias',
  'logits_ood.norm.running_mean': 'head.posterior_head.bn.running_mean',
  'logits_ood.norm.running_var': 'head.posterior_head.bn.running_var',
};
const HEAD_CONV_WEIGHT = 'logits_ood.conv.weight';
const HEAD_CONV_BIAS = 'logits_ood.conv.bias';

/** An assignment: model variable ← values computed from the source. */
interface Assignment {
  readonly target: string;
  readonly variable: tf.Variable;
  readonly source: string;
  /** Values in the variable's layout and shape. */
  values(): Float32Array;
}

function transposeOihw(values: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  // OIHW [o][i][h][w] → HWIO [h][w][i][o]
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let c = 0; c < h; c++)
        for (let d = 0; d < w; d++)
          out[((c * w + d) * i + b) * o + a] = values[((a * i + b) * h + c) * w + d] as number;
  return out;
}

const FN = 'loadStateDict';
/** The rule name of source keys whose shape differs from a variable of an allowed-missing group. */
const SHAPE_RULE = 'other-shape-in-allowed-group';

/** Plans and checks every assignment before anything is assigned; throws on any problem. */
function plan(
  model: DenseHybridModel,
  source: Source,
  options: LoadStateDictOptions,
): { assignments: Assignment[]; accounting: StateDictAccounting } {
  const d = DEFAULT_LOAD_STATE_DICT_OPTIONS;
  const rules = options.skip ?? d.skip;
  const allowMissing = options.allowMissing ?? d.allowMissing;
  for (const g of allowMissing) {
    if (!(MODEL_GROUPS as readonly string[]).includes(g)) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${FN}: expected allowMissing to hold groups of ${MODEL_GROUPS.join(', ')}, got ${describeValue(g)}`,
      );
    }
  }
  const names = [...source.tensors.map((t) => t.name), ...source.others];
  const strip =
    (options.stripPrefix ?? d.stripPrefix) === 'auto'
      ? names.length > 0 && names.every((n) => n.startsWith('module.'))
        ? 'module.'
        : ''
      : (options.stripPrefix as string);
  const unprefix = (n: string): string => (n.startsWith(strip) ? n.slice(strip.length) : n);
  const skipped: Record<string, number> = Object.fromEntries(rules.map((r) => [r.name, 0]));
  const kept: SourceTensor[] = [];
  const unmapped: string[] = [];
  const ruleOf = (n: string): SkipRule | undefined => rules.find((r) => r.pattern.test(n));
  for (const n of source.others) {
    const r = ruleOf(unprefix(n));
    if (r) skipped[r.name] = (skipped[r.name] ?? 0) + 1;
    else unmapped.push(`${n} (not a tensor)`);
  }
  for (const t of source.tensors) {
    const r = ruleOf(unprefix(t.name));
    if (r) skipped[r.name] = (skipped[r.name] ?? 0) + 1;
    else kept.push(t);
  }
  const targets = model.variables;
  const isHead = (n: string): boolean => n.startsWith('logits_ood.');
  // one prefix for the whole file: the one naming the most model variables
  const candidates = ['', 'backbone.', 'backbone.backbone.'];
  const score = (p: string): number =>
    kept.filter((t) => !isHead(unprefix(t.name)) && targets.has(p + unprefix(t.name))).length;
  const add = candidates.reduce((best, p) => (score(p) > score(best) ? p : best), '');
  const assignments: Assignment[] = [];
  const shapeError = (target: string, v: tf.Variable, t: SourceTensor, want: string): never => {
    const hint =
      modelGroupOf(target) === 'classifier'
        ? ` (a classifier for another number of classes? this model has K = ${model.numClasses})`
        : '';
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${FN}: expected "${t.name}" to have shape ${want} for model variable "${target}" ${JSON.stringify(v.shape)} (tfjs layout${v.rank === 4 ? ', HWIO' : ''}), got ${JSON.stringify(t.shape)} (${t.layout === 'torch' ? 'PyTorch layout' : 'tfjs layout'})${hint}`,
    );
  };
  let mapped = 0;
  let converted = 0;
  const assigned = new Set<string>();
  const claim = (target: string, t: SourceTensor): void => {
    if (assigned.has(target)) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${FN}: expected one source key per model variable, got two for "${target}" (the last: "${t.name}")`,
      );
    }
    assigned.add(target);
  };
  for (const t of kept) {
    const key = unprefix(t.name);
    if (isHead(key)) {
      // the authors' OOD head: BN → ReLU → Conv1×1 with 2 outputs (softmax, channel 1 = d_out);
      // its 1-logit equivalent: conv weight w₁ − w₀, bias b₁ − b₀, the same BN
      const bn = HEAD_BN[key];
      const target =
        bn ??
        (key === HEAD_CONV_WEIGHT
          ? 'head.posterior_head.conv.weight'
          : key === HEAD_CONV_BIAS
            ? 'head.posterior_head.conv.bias'
            : undefined);
      const v = target === undefined ? undefined : targets.get(target);
      if (target === undefined || v === undefined) {
        unmapped.push(t.name);
        continue;
      }
      claim(target, t);
      if (bn !== undefined) {
        if (JSON.stringify(t.shape) !== JSON.stringify(v.shape))
          shapeError(target, v, t, JSON.stringify(v.shape));
        assignments.push({ target, variable: v, source: t.name, values: () => t.read() });
      } else if (key === HEAD_CONV_WEIGHT) {
        const c = v.shape[2] as number;
        const want = t.layout === 'torch' ? [2, c, 1, 1] : [1, 1, c, 2];
        if (JSON.stringify(t.shape) !== JSON.stringify(want))
          shapeError(target, v, t, `${JSON.stringify(want)} (a 2-way 1×1 conv)`);
        assignments.push({
          target,
          variable: v,
          source: t.name,
          values: () => {
            const w = t.read();
            const out = new Float32Array(c);
            for (let i = 0; i < c; i++)
              out[i] =
                t.layout === 'torch'
                  ? (w[c + i] as number) - (w[i] as number)
                  : (w[2 * i + 1] as number) - (w[2 * i] as number);
            return out;
          },
        });
      } else {
        if (JSON.stringify(t.shape) !== '[2]') shapeError(target, v, t, '[2] (a 2-way bias)');
        assignments.push({
          target,
          variable: v,
          source: t.name,
          values: () => {
            const b = t.read();
            return Float32Array.of((b[1] as number) - (b[0] as number));
          },
        });
      }
      converted += 1;
      continue;
    }
    const target = add + key;
    const v = targets.get(target);
    if (v === undefined) {
      unmapped.push(t.name);
      continue;
    }
    const shape = t.layout === 'torch' ? toHwio(t.shape) : [...t.shape];
    if (JSON.stringify(shape) !== JSON.stringify(v.shape)) {
      // another shape in a group allowed to be missing (a classifier for another K): skipped
      // by name, the variable keeps its value
      if (allowMissing.includes(modelGroupOf(target))) {
        skipped[SHAPE_RULE] = (skipped[SHAPE_RULE] ?? 0) + 1;
        continue;
      }
      shapeError(target, v, t, JSON.stringify(t.layout === 'torch' ? toOihw(v.shape) : v.shape));
    }
    claim(target, t);
    mapped += 1;
    assignments.push({
      target,
      variable: v,
      source: t.name,
      values: () => {
        const x = t.read();
        return t.layout === 'torch' && t.shape.length === 4 ? transposeOihw(x, t.shape) : x;
      },
    });
  }
  if (unmapped.length > 0) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${FN}: expected every source key to map to a model variable or to be skipped by a rule (${rules.map((r) => r.name).join(', ') || 'none'}), got ${unmapped.length} unmapped: ${listNames(unmapped)}${add === '' && mapped === 0 ? ' (no key matches this architecture: another model?)' : ''}`,
    );
  }
  const groups = Object.fromEntries(
    MODEL_GROUPS.map((g) => [g, { loaded: 0, total: 0 }]),
  ) as Record<ModelGroup, { loaded: number; total: number }>;
  const missing: string[] = [];
  for (const name of targets.keys()) {
    const g = groups[modelGroupOf(name)];
    g.total += 1;
    if (assigned.has(name)) g.loaded += 1;
    else missing.push(name);
  }
  const missingGroups = MODEL_GROUPS.filter((g) => groups[g].loaded < groups[g].total);
  const notAllowed = missingGroups.filter((g) => !allowMissing.includes(g));
  if (notAllowed.length > 0) {
    const detail = notAllowed.map((g) => `${g} ${groups[g].loaded}/${groups[g].total}`).join(', ');
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${FN}: expected the source to cover every group of the model, got ${detail} loaded (missing: ${listNames(missing.filter((n) => notAllowed.includes(modelGroupOf(n))))}); allow partial groups with allowMissing: [${notAllowed.map((g) => `'${g}'`).join(', ')}] (CLI: import --allow-missing ${notAllowed.join(',')}, train --init-allow-missing ${notAllowed.join(',')})`,
    );
  }
  return {
    assignments,
    accounting: {
      sourceKeys: names.length,
      mapped,
      converted,
      skipped,
      strippedPrefix: strip,
      addedPrefix: add,
      groups,
      missingGroups,
      missing,
      sourceFormat: source.format,
      source: source.path,
    },
  };
}

function assign(assignments: readonly Assignment[]): void {
  for (const a of assignments) {
    const values = a.values();
    if (values.length !== a.variable.size) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${FN}: expected ${a.variable.size} values for "${a.target}" from "${a.source}", got ${values.length}`,
      );
    }
    tf.tidy(() => a.variable.assign(tf.tensor(values, a.variable.shape, 'float32')));
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() === true;
}

/**
 * Loads weights into a DenseHybrid model from a PyTorch `state_dict` (`.pt` / `.pth` of
 * `torch.save`, `.safetensors`) or a DenseHybrid checkpoint or run folder, accounting for every
 * source key: **mapped** one-to-one to a model variable (PyTorch names: the backbones use the
 * authors' / torchvision's `state_dict` keys; conv OIHW → HWIO), **converted** (the authors'
 * 2-way OOD head `logits_ood.{norm,conv}.*` → the 1-logit posterior head: the same BatchNorm,
 * conv weight w₁ − w₀, bias b₁ − b₀), **skipped** by a named rule ({@link DEFAULT_SKIP_RULES}),
 * or an error. A DataParallel `module.` prefix is removed; the prefix that names model
 * variables (`backbone.` for the authors' LDN keys, `backbone.backbone.` for torchvision's
 * DenseNet `features.*`) is found from the keys. Everything is checked before anything is
 * assigned; model groups ({@link MODEL_GROUPS}) not fully covered fail unless `allowMissing`
 * names them.
 *
 * @param model - the model to fill (`createDenseHybridModel`)
 * @param source - a path (file or checkpoint folder), the bytes of a `.pt`/`.safetensors` file,
 *   or a parsed state_dict (`readTorchCheckpoint`, `parseSafetensors`)
 * @param options - see {@link LoadStateDictOptions}
 * @returns the accounting: counts per rule, loaded variables per group
 * @throws DenseHybridError `MODEL_LOAD` for unmapped source keys (listed), shape mismatches
 *   (naming both shapes) or missing groups; `INVALID_INPUT` / `IO` for unreadable files
 * @example
 * ```ts
 * const r = await loadStateDict(model, 'ldn121_streethazards.pt');
 * console.log(r.mapped, r.converted, r.skipped); // 604 6 { num_batches_tracked: 367, logits_aux: 12 }
 * ```
 */
export async function loadStateDict(
  model: DenseHybridModel,
  source: string | Uint8Array | SafetensorsFile,
  options: LoadStateDictOptions = {},
): Promise<StateDictAccounting> {
  if (!model || !(model.variables instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected a DenseHybrid model (createDenseHybridModel), got ${describeValue(model)}`,
    );
  }
  let ckpt: Checkpoint | undefined;
  try {
    let src: Source;
    if (typeof source === 'string' && (await isDirectory(source))) {
      const dir = (await stat(join(source, 'model', 'checkpoint.json')).catch(() => undefined))
        ? join(source, 'model')
        : source;
      ckpt = await loadCheckpoint(dir);
      src = fromCheckpoint(ckpt);
    } else if (typeof source === 'string' || source instanceof Uint8Array) {
      const sd = await readTorchCheckpoint(source, {
        stateDictKey: options.stateDictKey ?? DEFAULT_LOAD_STATE_DICT_OPTIONS.stateDictKey,
        ...(options.sourceName !== undefined ? { source: options.sourceName } : {}),
      });
      const name = typeof source === 'string' ? source : (options.sourceName ?? 'buffer');
      src = fromSafetensors(sd, sd.format, [...sd.others.keys()], name);
    } else if (source !== null && typeof source === 'object' && source.tensors instanceof Map) {
      const s = source as SafetensorsFile & {
        format?: string;
        others?: ReadonlyMap<string, unknown>;
      };
      src = fromSafetensors(
        s,
        s.format ?? 'safetensors',
        [...(s.others?.keys() ?? [])],
        options.sourceName ?? 'state_dict',
      );
    } else {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${FN}: expected a path, file bytes or a parsed state_dict, got ${describeValue(source)}`,
      );
    }
    const { assignments, accounting } = plan(model, src, options);
    assign(assignments);
    return accounting;
  } finally {
    if (ckpt) disposeCheckpoint(ckpt);
  }
}

/**
 * One line per part of the accounting, as `densehybrid import` and `train --init` print it.
 *
 * @example
 * ```ts
 * formatAccounting(r); // ['612 source keys: 594 mapped, 6 converted (OOD head), 12 skipped (num_batches_tracked 0, logits_aux 12)', 'groups: encoder 362/362, …']
 * ```
 */
export function formatAccounting(a: StateDictAccounting): string[] {
  const skippedTotal = Object.values(a.skipped).reduce((x, y) => x + y, 0);
  const rules = Object.entries(a.skipped)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const prefix = [
    a.strippedPrefix !== '' ? `removed prefix "${a.strippedPrefix}"` : '',
    a.addedPrefix !== '' ? `names prefixed "${a.addedPrefix}"` : '',
  ].filter((s) => s !== '');
  return [
    `${a.sourceKeys} source keys (${a.sourceFormat}): ${a.mapped} mapped, ${a.converted} converted (2-way OOD head logits_ood → posterior head), ${skippedTotal} skipped (${rules || 'no rules'}), 0 unmapped${prefix.length > 0 ? `; ${prefix.join(', ')}` : ''}`,
    `model groups loaded: ${MODEL_GROUPS.map((g) => `${g} ${a.groups[g].loaded}/${a.groups[g].total}`).join(', ')}${a.missingGroups.length > 0 ? ` (kept as initialised: ${a.missingGroups.join(', ')})` : ''}`,
  ];
}

/** Options of {@link importAuthorsCheckpoint}. */
export interface ImportAuthorsCheckpointOptions extends LoadStateDictOptions {
  /** The checkpoint: a `.pt` / `.pth` / `.safetensors` path, its bytes, or a parsed state_dict. */
  readonly source: string | Uint8Array | SafetensorsFile;
  /**
   * The architecture: one of {@link AUTHORS_ARCHITECTURES}, or any backbone name of
   * `@densehybrid/backbones` (`tiny`, `small`, … with the same key names).
   */
  readonly arch: AuthorsArchitecture | BackboneName;
  /** K known classes, or their names (K = the count). */
  readonly classes: number | readonly string[];
  /**
   * The model file to write (a checkpoint folder, `saveModel`). Without it the model is returned
   * (the caller disposes it).
   */
  readonly out?: string;
  /** More meta for the model file (e.g. `{ dataset: 'streethazards' }`). @default {} */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** Seed of the initialisation of groups allowed to be missing. @default 0 */
  readonly seed?: number;
}

/** What {@link importAuthorsCheckpoint} did. */
export interface ImportAuthorsCheckpointResult extends StateDictAccounting {
  readonly arch: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** The model file written (with `out`). */
  readonly dir?: string;
  /** The model (without `out`; the caller disposes it). */
  readonly model?: DenseHybridModel;
}

/** The authors' batch-norm momentum (their LDN and DeepLab heads): kept for fine-tuning. */
const AUTHORS_BN_MOMENTUM = 0.01;

function buildBackbone(arch: string, numClasses: number, seed: number): SegmentationModel {
  if (arch === 'ldn121') {
    return ladderDenseNet({
      preset: 'densenet121',
      numClasses,
      seed,
      batchNormMomentum: AUTHORS_BN_MOMENTUM,
    });
  }
  const names: readonly string[] = BACKBONE_NAMES;
  if (!names.includes(arch)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `importAuthorsCheckpoint: expected arch to be one of ${[...AUTHORS_ARCHITECTURES, ...BACKBONE_NAMES.filter((n) => !(AUTHORS_ARCHITECTURES as readonly string[]).includes(n))].join(', ')}, got ${describeValue(arch)}`,
    );
  }
  return createBackbone({ name: arch as BackboneName, numClasses, seed });
}

/**
 * Imports one of the authors' released checkpoints (a PyTorch `state_dict` of `LadderDenseNetTH`
 * or `DeepWV3PlusTH`, `.pt` as `torch.save` wrote it or `.safetensors`) as a DenseHybrid model
 * file that `loadModel`, `densehybrid infer`, `eval`, `calibrate` and `train --init` read. Builds
 * the architecture with K classes, loads every key with {@link loadStateDict} (the 2-way OOD
 * head converted), and writes the model with `saveModel` (meta: class names, the source file's
 * name and SHA-256, the accounting).
 *
 * @param options - see {@link ImportAuthorsCheckpointOptions}
 * @returns the accounting, and the model file or the model
 * @throws DenseHybridError `INVALID_OPTION` (arch, classes), `MODEL_LOAD` (keys, shapes, groups:
 *   a checkpoint with K ≠ `classes` fails on the classifier's shape), `INVALID_INPUT` / `IO`
 * @example
 * ```ts
 * const r = await importAuthorsCheckpoint({ source: 'sh_ldn121.pt', arch: 'ldn121', classes: 12, out: 'models/sh' });
 * const detector = await loadModel('models/sh');
 * ```
 */
export async function importAuthorsCheckpoint(
  options: ImportAuthorsCheckpointOptions,
): Promise<ImportAuthorsCheckpointResult> {
  const fn = 'importAuthorsCheckpoint';
  const { classes, arch } = options ?? ({} as ImportAuthorsCheckpointOptions);
  const classNames =
    typeof classes === 'number'
      ? Array.from({ length: classes }, (_, i) => `class${i}`)
      : Array.isArray(classes)
        ? [...(classes as readonly string[])]
        : [];
  if (
    classNames.length < 1 ||
    classNames.length > 254 ||
    (typeof classes === 'number' && !Number.isInteger(classes)) ||
    !classNames.every((n) => typeof n === 'string' && n !== '')
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected classes to be K (an integer 1…254) or K non-empty names, got ${describeValue(classes)}`,
    );
  }
  const numClasses = classNames.length;
  const backbone = buildBackbone(arch, numClasses, options.seed ?? 0);
  const model = createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: options.seed ?? 0 }),
  });
  let keep = false;
  try {
    const { source } = options;
    // a file is read once: its bytes are hashed (meta) and parsed
    const bytes =
      typeof source === 'string' && !(await isDirectory(source))
        ? await readBytes(source)
        : source instanceof Uint8Array
          ? source
          : undefined;
    const accounting = await loadStateDict(model, bytes ?? source, {
      ...options,
      ...(typeof source === 'string' ? { sourceName: source } : {}),
    });
    const from = {
      ...(typeof source === 'string' ? { file: basename(source) } : {}),
      ...(bytes !== undefined ? { sha256: sha256(bytes) } : {}),
    };
    const result = { ...accounting, arch, numClasses, classNames };
    if (options.out === undefined) {
      keep = true;
      return { ...result, model };
    }
    const meta: ModelMeta = {
      ...(options.meta ?? {}),
      classNames,
      importedFrom: {
        ...from,
        arch,
        format: accounting.sourceFormat,
        mapped: accounting.mapped,
        converted: accounting.converted,
        skipped: accounting.skipped,
        missingGroups: accounting.missingGroups,
      },
    };
    await saveModel(options.out, model, meta);
    return { ...result, dir: options.out };
  } finally {
    if (!keep) model.dispose();
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `importAuthorsCheckpoint: expected a readable checkpoint at ${path}, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      { cause: e },
    );
  }
}
