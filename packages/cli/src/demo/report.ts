import { join } from 'node:path';
import { writePng } from '@densehybrid/data-mixing';
import type { RgbImage } from '@densehybrid/data-mixing';
import type { DigitScenes, SceneSplit } from '@densehybrid/data-mixing';
import { BENCHMARK_PROTOCOLS, openSetPrediction } from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { anomalyHeatmap, colorbar } from '../render/colormap.js';
import { colorizeLabels, legend, openSetLegendEntries } from '../render/labels.js';
import { sideBySide, stack } from '../render/panels.js';
import { plotCurves } from '../render/plot.js';
import {
  DEMO_SCORES,
  BOUNDARY_BAND,
  SCORE_DESCRIPTIONS,
  type SplitOutputs,
  type TrackMetrics,
} from './evaluate.js';
import { DEMO_TRACK_TITLES, type DemoTrackName } from './scenes.js';

/** Nearest-neighbour upscaling by an integer factor (64 px scenes are small on screen). */
function upscale(image: RgbImage, factor: number): RgbImage {
  const width = image.width * factor;
  const height = image.height * factor;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < width; x++) {
      const s = (sy * image.width + Math.floor(x / factor)) * 3;
      const d = (y * width + x) * 3;
      data[d] = image.data[s] ?? 0;
      data[d + 1] = image.data[s + 1] ?? 0;
      data[d + 2] = image.data[s + 2] ?? 0;
    }
  }
  return { data, width, height };
}

/**
 * Writes one PNG per example scene: input, ground truth, open-set map (hybrid score with its
 * validation threshold), the anomaly map of every score with its scale bar, and the colour
 * legend of the label maps. Returns the file names.
 */
export async function writeExamplePngs(
  dir: string,
  scenes: DigitScenes,
  track: TrackMetrics,
  split: SceneSplit,
  outputs: SplitOutputs,
  count: number,
): Promise<string[]> {
  const size = split.size;
  const px = size * size;
  const K = scenes.numClasses;
  const factor = Math.max(1, Math.round(192 / size));
  const files: string[] = [];
  const threshold = track.scores.hybrid.threshold;
  const side = size * factor;
  const key = await legend(openSetLegendEntries(scenes.classNames), { maxHeight: side });
  for (let i = 0; i < Math.min(count, split.count); i++) {
    const input: RgbImage = {
      data: split.images.subarray(i * px * 3, (i + 1) * px * 3),
      width: size,
      height: size,
    };
    const gt = colorizeLabels(split.labels.subarray(i * px, (i + 1) * px), size, size, K);
    const hybrid = outputs.scores.hybrid.subarray(i * px, (i + 1) * px);
    const closed = outputs.closed.subarray(i * px, (i + 1) * px);
    const open = openSetPrediction(closed, hybrid, threshold, K, {
      thresholdRule: BENCHMARK_PROTOCOLS.demo.thresholdRule,
    });
    const openMap = colorizeLabels(open, size, size, K);
    const heatmaps = await Promise.all(
      DEMO_SCORES.map(async (name) => {
        const heat = anomalyHeatmap(
          outputs.scores[name].subarray(i * px, (i + 1) * px),
          size,
          size,
        );
        const scale = { min: heat.min, max: heat.max, width: side };
        return stack([upscale(heat.image, factor), await colorbar('inferno', scale)]);
      }),
    );
    const sheet = await sideBySide(
      [...[input, gt, openMap].map((im) => upscale(im, factor)), ...heatmaps, key],
      { captions: ['input', 'ground truth', 'open-set', ...DEMO_SCORES], fontSize: 13 },
    );
    const file = `example-${track.track}-${i}.png`;
    await writePng(join(dir, file), sheet);
    files.push(file);
  }
  return files;
}

/** One distinct colour per score in the PR plots (hybrid in red). */
const SCORE_COLORS: Readonly<
  Record<(typeof DEMO_SCORES)[number], readonly [number, number, number]>
> = {
  'max-softmax': [31, 119, 180],
  'max-logit': [23, 190, 207],
  entropy: [127, 127, 127],
  SML: [188, 189, 34],
  'std-max-logit': [140, 86, 75],
  generative: [148, 103, 189],
  discriminative: [44, 160, 44],
  hybrid: [214, 39, 40],
};

/** Writes the PR curves of every score on a track. */
export async function writePrCurves(dir: string, track: TrackMetrics): Promise<string> {
  const plot = await plotCurves(
    DEMO_SCORES.map((name) => ({
      x: track.curves[name].recall,
      y: track.curves[name].precision,
      label: `${name} AP ${track.scores[name].ap.toFixed(1)}`,
      color: SCORE_COLORS[name],
    })),
    {
      title: `PR, ${DEMO_TRACK_TITLES[track.track]}`,
      xLabel: 'recall',
      yLabel: 'precision',
      steps: true,
      width: 560,
      height: 480,
    },
  );
  const file = `pr-${track.track}.png`;
  await writePng(join(dir, file), plot.image);
  return file;
}

/** The fixed-width summary table (one screen): one row per score, both tracks. */
export function summaryTable(tracks: readonly TrackMetrics[]): string[] {
  const head = ['score', ...tracks.flatMap((t) => [`${t.track} AP`, 'FPR95', 'AUROC', 'oIoU'])];
  const rows = DEMO_SCORES.map((name) => [
    name,
    ...tracks.flatMap((t) => {
      const m = t.scores[name];
      return [m.ap, m.fpr95, m.auroc, m.openMIoU].map((v) => v.toFixed(1));
    }),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** Everything report.md says. */
export interface ReportInput {
  readonly tracks: readonly TrackMetrics[];
  /** What each track's anomalies are. */
  readonly anomalies: Readonly<Record<DemoTrackName, string>>;
  readonly findings: readonly string[];
  readonly setup: readonly string[];
  readonly files: readonly string[];
}

/** Writes report.md. */
export async function writeReport(dir: string, input: ReportInput): Promise<void> {
  const md: string[] = [
    '# DenseHybrid demo report',
    '',
    '## Setup',
    '',
    ...input.setup.map((s) => `- ${s}`),
    '',
  ];
  md.push('## Scores', '', ...DEMO_SCORES.map((n) => `- **${n}**: ${SCORE_DESCRIPTIONS[n]}`), '');
  for (const t of input.tracks) {
    md.push(
      `## Track ${t.track}: ${DEMO_TRACK_TITLES[t.track]}`,
      '',
      `Anomalies: ${input.anomalies[t.track]}.`,
      '',
      `Closed-set mIoU (K classes, anomaly pixels ignored): **${t.closedMIoU.toFixed(1)} %**. Anomaly pixels: ${(100 * t.anomalyPixelFraction).toFixed(1)} % of evaluated pixels.`,
      '',
      '| score | AP | FPR95 | AUROC | open-mIoU | anomaly IoU | threshold (val, TPR 95 %) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...DEMO_SCORES.map((n) => {
        const m = t.scores[n];
        return `| ${n} | ${m.ap.toFixed(1)} | ${m.fpr95.toFixed(1)} | ${m.auroc.toFixed(1)} | ${m.openMIoU.toFixed(1)} | ${m.anomalyIoU.toFixed(1)} | ${m.threshold.toPrecision(4)} |`;
      }),
      '',
      `![PR curves](pr-${t.track}.png)`,
      '',
    );
  }
  md.push(
    '## Hybrid versus its components and max-softmax',
    '',
    ...input.findings.map((f) => `- ${f}`),
    '',
  );
  md.push(
    `Diagnostic: AP / FPR95 (%) with a ${BOUNDARY_BAND}-px band around every anomaly boundary ignored (interior pixels only).`,
    '',
    `| track | ${DEMO_SCORES.join(' | ')} |`,
    `|---|${DEMO_SCORES.map(() => '---:').join('|')}|`,
    ...input.tracks.map(
      (t) =>
        `| ${t.track} | ${DEMO_SCORES.map((n) => `${t.interior[n].ap.toFixed(1)} / ${t.interior[n].fpr95.toFixed(1)}`).join(' | ')} |`,
    ),
    '',
  );
  const sweep = input.tracks[0]?.hybridWeightSweep ?? [];
  md.push(
    'Diagnostic: ranking by ln P(d_out|x) + λ·(−ln p̂(x)) on the test split (AP / FPR95, %). λ = 1 is the hybrid score, λ = 0 ranks like the discriminative component, large λ like the generative one.',
    '',
    `| track | ${sweep.map((w) => `λ = ${w.lambda}`).join(' | ')} |`,
    `|---|${sweep.map(() => '---:').join('|')}|`,
    ...input.tracks.map(
      (t) =>
        `| ${t.track} | ${t.hybridWeightSweep.map((w) => `${w.ap.toFixed(1)} / ${w.fpr95.toFixed(1)}`).join(' | ')} |`,
    ),
    '',
  );
  md.push(
    '## Files',
    '',
    ...input.files.map((f) => (f.endsWith('.png') ? `- [${f}](${f})` : `- ${f}`)),
    '',
    'Each `example-*.png`: input, ground truth (white = anomaly, black = ignore), open-set map (hybrid score, threshold calibrated on the validation split at TPR 95 %), then the anomaly map of every score (inferno, min–max per image, with its scale bar), and the colour legend of the label maps.',
    '',
  );
  await writeFileAtomic(join(dir, 'report.md'), md.join('\n'));
}

/** Plain-language comparison of the hybrid score with its components and max-softmax (AP and FPR95). */
export function hybridFindings(tracks: readonly TrackMetrics[]): string[] {
  const out: string[] = [];
  for (const t of tracks) {
    const h = t.scores.hybrid;
    for (const other of ['generative', 'discriminative', 'max-softmax'] as const) {
      const o = t.scores[other];
      const ap = h.ap >= o.ap ? '≥' : '<';
      const fpr = h.fpr95 <= o.fpr95 ? '≤' : '>';
      // one decimal, or as many as it takes (up to 3) for two different values to read differently
      const pair = (a: number, b: number): [string, string] => {
        let d = 1;
        while (d < 3 && a !== b && a.toFixed(d) === b.toFixed(d)) d++;
        return [a.toFixed(d), b.toFixed(d)];
      };
      const [hAp, oAp] = pair(h.ap, o.ap);
      const [hFpr, oFpr] = pair(h.fpr95, o.fpr95);
      out.push(`${t.track}: hybrid AP ${hAp} ${ap} ${other} ${oAp}; FPR95 ${hFpr} ${fpr} ${oFpr}`);
    }
    const g = t.scores.generative;
    const d = t.scores.discriminative;
    const [best, worst] =
      g.ap >= d.ap
        ? (['generative', 'discriminative'] as const)
        : (['discriminative', 'generative'] as const);
    const sweepBest = t.hybridWeightSweep.reduce((a, b) => (b.ap > a.ap ? b : a));
    out.push(
      h.ap >= t.scores[best].ap
        ? `${t.track}: hybrid AP ≥ both components (as the paper's Tables 6 and 8); the best weighting in the λ sweep is λ = ${sweepBest.lambda} (AP ${sweepBest.ap.toFixed(1)})`
        : `${t.track}: the better component is ${best}; hybrid is ${(t.scores[best].ap - h.ap).toFixed(1)} AP below it and ${(h.ap - t.scores[worst].ap).toFixed(1)} above ${worst}; the best weighting in the λ sweep is λ = ${sweepBest.lambda} (AP ${sweepBest.ap.toFixed(1)})`,
    );
  }
  return out;
}
