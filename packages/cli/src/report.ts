import { join } from 'node:path';
import { writePng } from '@densehybrid/data-mixing';
import { metricsDocument } from '@densehybrid/metrics-openiou';
import type {
  EvaluationConventions,
  EvaluationResult,
  ScoreEvaluation,
} from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { plotCurves } from './render/plot.js';

/**
 * Context shown at the top of an evaluation report and stored as `metrics.json`'s `context`.
 * Nothing in it depends on time or on how the work was split, so one process and merged shards
 * write the same bytes (timings go to `timings.json`).
 */
export interface ReportContext {
  /** The evaluated checkpoint, or null for precomputed score maps. */
  readonly checkpoint: string | null;
  /** The folder of precomputed score maps (`eval --scores`), or null. */
  readonly scoreMaps?: string | null;
  readonly dataset: string;
  readonly split: string;
  /** The first (or only) score; the top-level metrics are its. */
  readonly score: string;
  /** Every evaluated score in order. @default [score] */
  readonly scores?: readonly string[];
  readonly fprRule: string;
  readonly tpr: number;
  readonly mode: string;
  readonly classNames: readonly string[];
  readonly backend: string;
}

/** What a run knows of its report context before the result (a shard stores it in its state). */
export type ReportBase = Omit<ReportContext, 'score' | 'fprRule' | 'tpr'>;

/**
 * The report context of a result: `base` with the first score and the FPR rule and TPR the
 * result followed, in `metrics.json`'s field order.
 *
 * @example
 * ```ts
 * const ctx = reportContext({ checkpoint: 'runs/sh', scoreMaps: null, dataset: 'streethazards', split: 'test', scores: ['hybrid'], mode: 'histogram (float16 bins)', classNames, backend: 'wasm' }, result);
 * ```
 */
export function reportContext(base: ReportBase, result: EvaluationResult): ReportContext {
  const scores = base.scores ?? [];
  return {
    checkpoint: base.checkpoint,
    scoreMaps: base.scoreMaps ?? null,
    dataset: base.dataset,
    split: base.split,
    score: scores[0] ?? 'score',
    scores,
    fprRule: result.conventions.fprRule,
    tpr: result.conventions.tpr,
    mode: base.mode,
    classNames: base.classNames,
    backend: base.backend,
  };
}

/** `timings.json`: how long an evaluation took (kept out of `metrics.json`). */
export interface EvaluationTimings {
  readonly format: 'densehybrid/eval-timings';
  readonly version: 1;
  /** Wall-clock seconds of the command. */
  readonly seconds: number;
  /** CPU seconds (user + system) of the process. */
  readonly cpuSeconds: number;
  /** Images evaluated by this command (a resumed run: since it resumed). */
  readonly images: number;
  readonly imagesPerSecond: number;
  /** `merge`: each shard's `timings.json`, in shard order (null where a shard has none). */
  readonly shards?: readonly (Readonly<Record<string, unknown>> | null)[];
  /** A shard: one entry per command that worked on it (passes, resumed runs). */
  readonly runs?: readonly Readonly<Record<string, unknown>>[];
}

/**
 * Timings of a command that started at `t0` (`performance.now()`) with CPU usage `cpu0`.
 *
 * @example
 * ```ts
 * const t = measuredTimings(t0, cpu0, result.frames);
 * ```
 */
export function measuredTimings(
  t0: number,
  cpu0: NodeJS.CpuUsage,
  images: number,
): EvaluationTimings {
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    format: 'densehybrid/eval-timings',
    version: 1,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    images,
    imagesPerSecond: seconds > 0 ? images / seconds : 0,
  };
}

/**
 * Writes `timings.json` into `dir` (atomically).
 *
 * @example
 * ```ts
 * await writeTimings(staged.dir, measuredTimings(t0, cpu0, result.frames));
 * ```
 */
export async function writeTimings(dir: string, timings: EvaluationTimings): Promise<void> {
  await writeFileAtomic(join(dir, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
}

/**
 * The lines `eval` and `merge` print: where the report went, then per score AP / FPR95 / AUROC,
 * open-mIoU and the component metrics, closed mIoU and the notes.
 *
 * @example
 * ```ts
 * ctx.result({ out, ...metricsDocument(result, rc) }, summaryLines(out, result));
 * ```
 */
export function summaryLines(out: string, result: EvaluationResult): string[] {
  const { fprRule, protocol } = result.conventions;
  const names = result.scores.map((s) => s.name);
  const human = [`wrote ${out}/{metrics.json,report.md${result.anomaly ? ',pr.png,roc.png' : ''}}`];
  const width = Math.max(...names.map((n) => n.length));
  for (const s of result.scores) {
    const tag = names.length > 1 ? `${s.name.padEnd(width)}  ` : '';
    const a = s.anomaly;
    if (a)
      human.push(
        `${tag}AP ${pct(a.ap)}  FPR95 ${pct(a.fpr)}  AUROC ${pct(a.auroc)}  (${protocol}, ${fprRule}, ${result.frames} images)`,
      );
    if (s.openSet)
      human.push(
        `${tag}open-mIoU ${pct(s.openSet.openMIoU)} (${s.openSet.thresholdSource})  anomaly IoU ${pct(s.openSet.anomalyIoU)}`,
      );
    if (s.components)
      human.push(
        `${tag}sIoU ${pct(s.components.sIoU)}  PPV ${pct(s.components.ppv)}  mean F1 ${pct(s.components.meanF1)}`,
      );
  }
  if (result.closed) human.push(`closed mIoU ${pct(result.closed.mIoU)}`);
  for (const n of result.notes) human.push(`note: ${n}`);
  return human;
}

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : (100 * v).toFixed(2);

/** One row per score: AP, FPR95, AUROC, and open-mIoU / sIoU where computed. */
function comparisonTable(scores: readonly ScoreEvaluation[]): string[] {
  const open = scores.some((s) => s.openSet);
  const comp = scores.some((s) => s.components);
  const head = ['score', 'AP', 'FPR95', 'AUROC', ...(open ? ['open-mIoU'] : [])];
  if (comp) head.push('sIoU', 'PPV', 'mean F1');
  const rows = scores.map((s) => {
    const r = [s.name, pct(s.anomaly?.ap), pct(s.anomaly?.fpr), pct(s.anomaly?.auroc)];
    if (open) r.push(pct(s.openSet?.openMIoU));
    if (comp) r.push(pct(s.components?.sIoU), pct(s.components?.ppv), pct(s.components?.meanF1));
    return `| ${r.join(' | ')} |`;
  });
  return [
    '## Score comparison',
    '',
    `| ${head.join(' | ')} |`,
    `|---|${head
      .slice(1)
      .map(() => '---:|')
      .join('')}`,
    ...rows,
  ];
}

/** The conventions the evaluation followed (`metrics.json`'s `conventions`), and their sources. */
function conventionsSection(c: EvaluationConventions): string[] {
  const rows: [string, string][] = [
    ['anomaly metrics', `${c.protocol}, FPR at TPR ${c.tpr} (rule \`${c.fprRule}\`)`],
    [
      'threshold rule',
      c.thresholdRule === 'greater' ? '`score > threshold`' : '`score >= threshold`',
    ],
    ['per-image frames without anomaly / inliers', `\`${c.perImageEmptyFrames}\``],
    ['ignored pixels in AP / AUROC / FPR', `\`${c.ignoredPixels}\``],
    ['score precision', `\`${c.scoreRounding}\``],
    [
      'evaluation mode',
      c.mode === 'exact'
        ? '`exact`: every score kept and sorted'
        : `\`histogram\`: one bin per float16 value; scores that are no float16 value (a note counts them) are rounded to float16${c.protocol === 'per-image' ? ' for the pooled curves, the per-image metrics are exact from each frame' : ''}`,
    ],
    [
      'reported pixel metrics',
      c.percentileBins === null
        ? c.mode === 'exact'
          ? 'exact (every score)'
          : 'exact for float16 scores (float16 histogram)'
        : `${c.percentileBins} percentile bins per frame (exact values beside)`,
    ],
    [
      'cross-calibration',
      `FPR rule \`${c.calibrationFprRule}\`, ×${c.calibrationScale} (${c.calibrationResampling} scores, nearest labels)`,
    ],
    ['closed mIoU over folds', `\`${c.closedPooling}\``],
    ['open-mIoU mean', `\`${c.average}\``],
  ];
  return [
    '## Conventions',
    '',
    '| convention | value |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...(c.officialCode.length
      ? ['Following the official code:', '', ...c.officialCode.map((o) => `- ${o}`)]
      : []),
  ];
}

/**
 * The human report in Markdown.
 *
 * @example
 * ```ts
 * console.log(reportMarkdown(result, ctx));
 * ```
 */
function reportMarkdown(result: EvaluationResult, ctx: ReportContext): string {
  const L: string[] = [];
  L.push(`# DenseHybrid evaluation: ${ctx.dataset} (${ctx.split})`, '');
  L.push(
    ctx.checkpoint !== null
      ? `- checkpoint: \`${ctx.checkpoint}\``
      : `- score maps: \`${ctx.scoreMaps ?? ''}\` (precomputed)`,
  );
  const multi = result.scores.length > 1;
  L.push(
    `- ${multi ? `scores: ${result.scores.map((s) => s.name).join(', ')} (one forward pass per image; detailed sections below are for ${ctx.score})` : `score: ${ctx.score}`}; backend: ${ctx.backend}; ${result.frames} images (timings in timings.json)`,
  );
  L.push(
    `- protocol: ${result.protocol}; FPR at TPR ${ctx.tpr} with rule \`${ctx.fprRule}\`; accumulator: ${ctx.mode}`,
    '',
  );
  if (multi) L.push(...comparisonTable(result.scores), '');
  if (result.anomaly) {
    const a = result.anomaly;
    L.push(
      multi ? `## Anomaly detection (${ctx.score})` : '## Anomaly detection',
      '',
      '| | AP | FPR95 | AUROC | best F1 |',
      '|---|---:|---:|---:|---:|',
    );
    const bins = result.conventions.percentileBins;
    const e = result.anomalyExact;
    L.push(
      `| **all**${e ? ` (${bins} percentile bins per frame)` : ''} | ${pct(a.ap)} | ${pct(a.fpr)} | ${pct(a.auroc)} | ${pct(a.bestF1)} |`,
    );
    if (e)
      L.push(`| all (exact) | ${pct(e.ap)} | ${pct(e.fpr)} | ${pct(e.auroc)} | ${pct(e.bestF1)} |`);
    for (const f of result.perFoldAnomaly)
      if (result.perFoldAnomaly.length > 1)
        L.push(
          `| ${f.name} | ${pct(f.result.ap)} | ${pct(f.result.fpr)} | ${pct(f.result.auroc)} | ${pct(f.result.bestF1)} |`,
        );
    L.push('');
    L.push(`${a.positives} anomaly, ${a.negatives} inlier, ${a.ignored} ignored pixels.`);
    if (result.protocol === 'per-image') {
      L.push(
        result.conventions.perImageEmptyFrames === 'skip'
          ? `Per-image protocol: averaged over ${a.framesUsed} images; ${a.framesWithoutAnomaly} without anomaly pixels and ${a.framesWithoutInlier} without inlier pixels were skipped (not counted as 0).`
          : `Per-image protocol: np.nanmean over ${a.framesUsed} images of scikit-learn's values; ${a.framesWithoutAnomaly} without anomaly pixels count AP 0 and FPR 0, ${a.framesWithoutInlier} without inlier pixels AP 1.`,
      );
    }
    L.push(
      '',
      multi
        ? '![PR curves](pr.png) ![ROC curves](roc.png)'
        : '![PR curve](pr.png) ![ROC curve](roc.png)',
      '',
    );
  }
  if (result.closed || result.openSet) {
    L.push('## Segmentation', '', '| metric | value |', '|---|---:|');
    if (result.closed)
      L.push(`| closed mIoU (K classes, anomaly pixels ignored) | ${pct(result.closed.mIoU)} |`);
    if (result.openSet) {
      L.push(
        `| open-mIoU (${multi ? `${ctx.score}, ` : ''}${result.openSet.thresholdSource}) | ${pct(result.openSet.openMIoU)} |`,
      );
      L.push(`| anomaly IoU | ${pct(result.openSet.anomalyIoU)} |`);
    }
    L.push('');
    if (result.openSet) {
      for (const f of result.openSet.folds) {
        L.push(
          `- ${f.name}: threshold ${f.threshold.toPrecision(5)}${f.calibratedOn ? ` (calibrated on ${f.calibratedOn} at TPR ${ctx.tpr}${result.openSet?.calibrationScale !== 1 ? ` on ×${result.openSet?.calibrationScale} resampled scores` : ''})` : ''}, open-mIoU ${pct(f.result.openMIoU)}, ${f.frames} images`,
        );
      }
      L.push('');
    }
    const first = result.openSet?.folds[0]?.result.iou;
    if (result.closed) {
      L.push(
        '| class | closed IoU |' + (first ? ' open IoU (first fold) |' : ''),
        '|---|---:|' + (first ? '---:|' : ''),
      );
      result.closed.iou.forEach((v, k) =>
        L.push(`| ${ctx.classNames[k] ?? k} | ${pct(v)} |` + (first ? ` ${pct(first[k])} |` : '')),
      );
      if (first) L.push(`| unknown | — | ${pct(first[ctx.classNames.length])} |`);
      L.push('');
    }
  }
  if (result.components) {
    const c = result.components;
    L.push(
      multi ? `## Component metrics (SMIYC, ${ctx.score})` : '## Component metrics (SMIYC)',
      '',
      '| sIoU | PPV | mean F1 |',
      '|---:|---:|---:|',
      `| ${pct(c.sIoU)} | ${pct(c.ppv)} | ${pct(c.meanF1)} |`,
      '',
    );
    L.push(
      `At threshold ${c.threshold.toPrecision(5)} (best pixel F1); ${c.gtComponents} ground-truth and ${c.predComponents} predicted components.`,
      '',
    );
  }
  L.push(...conventionsSection(result.conventions), '');
  if (result.notes.length) {
    L.push('## Notes', '', ...result.notes.map((n) => `- ${n}`), '');
  }
  return L.join('\n');
}

/**
 * Writes `metrics.json`, `report.md`, `pr.png` and `roc.png` into `dir` (each atomically).
 *
 * @example
 * ```ts
 * await writeEvaluationReport('reports/sh', result, ctx); // metrics.json, report.md, pr.png, roc.png
 * ```
 */
export async function writeEvaluationReport(
  dir: string,
  result: EvaluationResult,
  ctx: ReportContext,
): Promise<string[]> {
  const written: string[] = [];
  await writeFileAtomic(
    join(dir, 'metrics.json'),
    `${JSON.stringify(metricsDocument(result, ctx), null, 2)}\n`,
  );
  written.push('metrics.json');
  await writeFileAtomic(join(dir, 'report.md'), reportMarkdown(result, ctx));
  written.push('report.md');
  const curved = result.scores.filter(
    (
      sc,
    ): sc is ScoreEvaluation & {
      curves: NonNullable<ScoreEvaluation['curves']>;
      anomaly: NonNullable<ScoreEvaluation['anomaly']>;
    } => sc.curves !== null && sc.anomaly !== null,
  );
  if (curved.length > 0) {
    await writePng(
      join(dir, 'pr.png'),
      (
        await plotCurves(
          curved.map((sc) => ({
            x: sc.curves.pr.recall,
            y: sc.curves.pr.precision,
            label: `${sc.name} AP ${pct(sc.anomaly.ap)}`,
          })),
          {
            title: `PR ${ctx.dataset}`,
            xLabel: 'recall',
            yLabel: 'precision',
            steps: true,
          },
        )
      ).image,
    );
    await writePng(
      join(dir, 'roc.png'),
      (
        await plotCurves(
          curved.map((sc) => ({
            x: sc.curves.roc.fpr,
            y: sc.curves.roc.tpr,
            label: `${sc.name} AUROC ${pct(sc.anomaly.auroc)}`,
          })),
          {
            title: `ROC ${ctx.dataset}`,
            xLabel: 'FPR',
            yLabel: 'TPR',
            diagonal: true,
          },
        )
      ).image,
    );
    written.push('pr.png', 'roc.png');
  }
  return written;
}
