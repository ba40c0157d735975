import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { DenseHybridLossVariant } from '@densehybrid/losses';
import type { DemoFamily } from './families.js';
import type { DemoLossTerms, DemoOptions } from './pipeline.js';

/**
 * What a study configuration changes in the base demo. Every field is optional; factors apply
 * to the base's values, so that each configuration also runs at reduced size (`--quick`,
 * `--study-scale`).
 */
export interface StudyChange {
  /** Train stage 2 without a loss term (Table 6-style training ablation). */
  readonly lossTerms?: DemoLossTerms;
  /** `paper`: eq. 15 instead of the authors' weighting. */
  readonly lossVariant?: DenseHybridLossVariant;
  readonly beta?: number;
  /** Posterior weight of the authors' variant, × β. */
  readonly posteriorWeightFactor?: number;
  readonly backboneLearningRateFactor?: number;
  /** × DenseHybrid fine-tuning steps. */
  readonly stepsFactor?: number;
  /** × closed-set steps. */
  readonly closedStepsFactor?: number;
  /** × scene side and glyph sides: the same layout at a higher resolution (a finer output grid). */
  readonly sceneScale?: number;
  /** × glyph sides only: bigger objects in the same scenes. */
  readonly glyphScale?: number;
  /** Grey-level dilation radius of digit strokes (data-mixing's default 1): more solid digits. */
  readonly strokeDilation?: number;
  /** Negative families (the unseen families stay held out). */
  readonly negatives?: readonly DemoFamily[];
  /** Start stage 2 from the pretrained closed-set checkpoint instead of stage 1. */
  readonly pretrained?: boolean;
}

/** One configuration of the study: a data entry. */
export interface StudyConfig {
  /** `--study-configs` name. */
  readonly id: string;
  /** What it probes: the paper's ablation or one of issue 19's hypotheses. */
  readonly group: 'ablation' | 'scenes' | 'segmenter' | 'negatives' | 'fine-tuning';
  /** The question it answers. */
  readonly question: string;
  readonly change: StudyChange;
}

/**
 * The study: the paper's Table 6-style ablation (every run reports the discriminative, the
 * generative and the hybrid score, so the score ablation is in every row; the training ablation
 * drops the likelihood or the posterior term) and the hypotheses of issue 19 (boundary-dominated
 * anomalies, a weak segmenter, one negative family, fine-tuning settings).
 */
export const STUDY_CONFIGS: readonly StudyConfig[] = [
  {
    id: 'base',
    group: 'ablation',
    question: 'the default demo: hybrid vs its discriminative and generative components (Table 6)',
    change: {},
  },
  {
    id: 'no-likelihood',
    group: 'ablation',
    question: 'trained without the likelihood term (β·logsumexp on negatives)',
    change: { lossTerms: 'no-likelihood' },
  },
  {
    id: 'no-posterior',
    group: 'ablation',
    question: 'trained without the dataset-posterior term (the head stays untrained)',
    change: { lossTerms: 'no-posterior' },
  },
  {
    id: 'paper-loss',
    group: 'fine-tuning',
    question: "the paper's eq. 15 instead of the authors' weighting",
    change: { lossVariant: 'paper' },
  },
  {
    id: 'beta-0.01',
    group: 'fine-tuning',
    question: 'smaller β (0.01, the DeepLabV3+ value)',
    change: { beta: 0.01 },
  },
  { id: 'beta-0.1', group: 'fine-tuning', question: 'larger β (0.1)', change: { beta: 0.1 } },
  {
    id: 'posterior-x0.3',
    group: 'fine-tuning',
    question: 'posterior weight 3β instead of 10β',
    change: { posteriorWeightFactor: 3 },
  },
  {
    id: 'posterior-x3',
    group: 'fine-tuning',
    question: 'posterior weight 30β instead of 10β',
    change: { posteriorWeightFactor: 30 },
  },
  {
    id: 'backbone-lr-1',
    group: 'fine-tuning',
    question: 'backbone learning rate = head rate (factor 1 instead of ¼)',
    change: { backboneLearningRateFactor: 1 },
  },
  {
    id: 'frozen-backbone',
    group: 'fine-tuning',
    question: 'backbone frozen while fine-tuning (factor 0): only the head learns',
    change: { backboneLearningRateFactor: 0 },
  },
  {
    id: 'long-finetune',
    group: 'fine-tuning',
    question: '3× longer DenseHybrid fine-tuning',
    change: { stepsFactor: 3 },
  },
  {
    id: 'long-closed',
    group: 'segmenter',
    question: 'a stronger segmenter: 6× longer closed-set training',
    change: { closedStepsFactor: 6 },
  },
  {
    id: 'pretrained',
    group: 'segmenter',
    question:
      'fine-tuning a pretrained closed-set segmenter (the shipped checkpoint, 8× the closed-set steps), as the paper',
    change: { pretrained: true },
  },
  {
    id: 'big-objects',
    group: 'scenes',
    question: 'bigger objects (glyph sides × 1.25): fewer boundary pixels per object',
    change: { glyphScale: 1.25 },
  },
  {
    id: 'big-scenes',
    group: 'scenes',
    question: '2× scene resolution (same layout, a 2× finer stride-4 output grid; 4× the compute)',
    change: { sceneScale: 2 },
  },
  {
    id: 'thick-strokes',
    group: 'scenes',
    question: 'thicker, more solid digits (stroke dilation 2 instead of 1)',
    change: { strokeDilation: 2 },
  },
  {
    id: 'one-family',
    group: 'negatives',
    question: 'one negative family (tops only)',
    change: { negatives: ['tops'] },
  },
  {
    id: 'many-families',
    group: 'negatives',
    question: 'four negative families (tops, footwear, generated shapes, generated scribbles)',
    change: { negatives: ['tops', 'footwear', 'shapes', 'scribbles'] },
  },
  {
    id: 'combined',
    group: 'segmenter',
    question: 'pretrained segmenter + four negative families + bigger objects',
    change: {
      pretrained: true,
      negatives: ['tops', 'footwear', 'shapes', 'scribbles'],
      glyphScale: 1.25,
    },
  },
];

/** The study's configuration names. */
export const STUDY_CONFIG_IDS: readonly string[] = STUDY_CONFIGS.map((c) => c.id);

/** Pretraining runs this many times the base's closed-set steps. */
export const PRETRAIN_STEPS_FACTOR = 8;

const scaleRange = (r: readonly [number, number], f: number, max: number): [number, number] => {
  const lo = Math.max(4, Math.round(r[0] * f));
  return [Math.min(lo, max), Math.min(max, Math.max(lo, Math.round(r[1] * f)))];
};

/**
 * The demo options of a configuration: the base with the change applied and the step counts
 * × `scale` (at least 1 step each).
 */
export function applyStudyChange(base: DemoOptions, change: StudyChange, scale = 1): DemoOptions {
  const size = base.scenes.size ?? 64;
  const glyph = base.scenes.glyphSide ?? [18, 34];
  const sceneScale = change.sceneScale ?? 1;
  const newSize = Math.round(size * sceneScale);
  const glyphSide = scaleRange(glyph, sceneScale * (change.glyphScale ?? 1), newSize);
  const steps = (n: number, f = 1): number => Math.max(1, Math.round(n * f * scale));
  return {
    ...base,
    closedSteps: steps(base.closedSteps, change.closedStepsFactor),
    steps: steps(base.steps, change.stepsFactor),
    beta: change.beta ?? base.beta,
    lossVariant: change.lossVariant ?? base.lossVariant,
    posteriorWeightFactor: change.posteriorWeightFactor ?? base.posteriorWeightFactor,
    lossTerms: change.lossTerms ?? base.lossTerms,
    backboneLearningRateFactor:
      change.backboneLearningRateFactor ?? base.backboneLearningRateFactor,
    negatives: change.negatives ?? base.negatives,
    initialization: change.pretrained ? 'pretrained' : base.initialization,
    scenes: {
      ...base.scenes,
      ...(sceneScale !== 1 || change.glyphScale !== undefined ? { size: newSize, glyphSide } : {}),
      ...(change.strokeDilation !== undefined ? { strokeDilation: change.strokeDilation } : {}),
    },
  };
}

/**
 * The configurations named by `--study-configs` (all when empty), in the order of
 * {@link STUDY_CONFIGS}.
 *
 * @throws DenseHybridError `INVALID_OPTION` naming an unknown configuration and the known ones
 */
export function selectStudyConfigs(ids: readonly string[]): readonly StudyConfig[] {
  const unknown = ids.filter((id) => !STUDY_CONFIG_IDS.includes(id));
  if (unknown.length > 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `selectStudyConfigs: expected --study-configs from ${STUDY_CONFIG_IDS.join(', ')}, got ${unknown.join(', ')}`,
    );
  }
  return ids.length === 0 ? STUDY_CONFIGS : STUDY_CONFIGS.filter((c) => ids.includes(c.id));
}
