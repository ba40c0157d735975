import { join } from 'node:path';
import { writePng } from '@densehybrid/data-mixing';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { formatDuration } from '../io.js';
import { createRaster, drawSvg, rgb, svgText, textWidth, type Rgb } from '../render/svg.js';
import { DEMO_SCORES, type DemoScoreName } from './evaluate.js';
import type { DemoOptions } from './pipeline.js';
import { DEMO_TRACKS, DEMO_TRACK_TITLES, type DemoTrackName } from './scenes.js';
import type { StudyConfig } from './study-configs.js';

/** The numbers one study run keeps (its run.json; the run folder has the demo's metrics.json too). */
export interface StudyRunRecord {
  readonly config: string;
  readonly seed: number;
  readonly seconds: {
    readonly data: number;
    readonly train: number;
    readonly evaluate: number;
    readonly total: number;
    readonly cpu: number;
  };
  readonly steps: {
    readonly closed: number;
    /** The closed-set stage came from an earlier run's shared state (not trained in this run). */
    readonly closedShared: boolean;
    readonly fineTune: number;
  };
  readonly tracks: readonly {
    readonly track: DemoTrackName;
    readonly closedMIoU: number;
    readonly scores: Readonly<
      Record<
        DemoScoreName,
        {
          readonly ap: number;
          readonly fpr95: number;
          readonly auroc: number;
          readonly openMIoU: number;
        }
      >
    >;
  }[];
}

/** Mean and sample standard deviation (null for one value). */
export interface Stat {
  readonly mean: number;
  readonly sd: number | null;
  readonly n: number;
}

/** Mean ± sample sd of finite values. */
export function stat(values: readonly number[]): Stat {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  const mean = n === 0 ? NaN : v.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? null : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

/** Per configuration and track: every score's AP and FPR95 over seeds, and the paper's checks. */
export interface StudyRow {
  readonly config: string;
  readonly question: string;
  readonly seeds: number;
  /** Mean wall seconds per run (training + evaluation). */
  readonly seconds: number;
  readonly tracks: Readonly<
    Record<
      DemoTrackName,
      {
        readonly closedMIoU: Stat;
        readonly ap: Readonly<Record<DemoScoreName, Stat>>;
        readonly fpr95: Readonly<Record<DemoScoreName, Stat>>;
        /** Seeds where hybrid AP ≥ generative, ≥ discriminative, > max-softmax; and all three. */
        readonly wins: {
          readonly generative: number;
          readonly discriminative: number;
          readonly maxSoftmax: number;
          readonly all: number;
        };
      }
    >
  >;
}

/** Aggregates the runs of each configuration over its seeds (configurations without runs are left out). */
export function aggregateStudy(
  runs: readonly StudyRunRecord[],
  configs: readonly StudyConfig[],
): StudyRow[] {
  const rows: StudyRow[] = [];
  for (const config of configs) {
    const mine = runs.filter((r) => r.config === config.id);
    if (mine.length === 0) continue;
    const tracks = Object.fromEntries(
      DEMO_TRACKS.map((track) => {
        const per = mine
          .map((r) => r.tracks.find((t) => t.track === track))
          .filter((t) => t !== undefined);
        const pick = (f: (t: (typeof per)[number]) => number): Stat => stat(per.map(f));
        const scoreStats = (m: 'ap' | 'fpr95'): Record<DemoScoreName, Stat> =>
          Object.fromEntries(
            DEMO_SCORES.map((s) => [s, pick((t) => t.scores[s]?.[m] ?? NaN)]),
          ) as Record<DemoScoreName, Stat>;
        const count = (f: (t: (typeof per)[number]) => boolean): number => per.filter(f).length;
        const h = (t: (typeof per)[number]): number => t.scores.hybrid.ap;
        return [
          track,
          {
            closedMIoU: pick((t) => t.closedMIoU),
            ap: scoreStats('ap'),
            fpr95: scoreStats('fpr95'),
            wins: {
              generative: count((t) => h(t) >= t.scores.generative.ap),
              discriminative: count((t) => h(t) >= t.scores.discriminative.ap),
              maxSoftmax: count((t) => h(t) > t.scores['max-softmax'].ap),
              all: count(
                (t) =>
                  h(t) >= t.scores.generative.ap &&
                  h(t) >= t.scores.discriminative.ap &&
                  h(t) > t.scores['max-softmax'].ap,
              ),
            },
          },
        ];
      }),
    ) as StudyRow['tracks'];
    rows.push({
      config: config.id,
      question: config.question,
      seeds: mine.length,
      seconds: mine.reduce((a, r) => a + r.seconds.train + r.seconds.evaluate, 0) / mine.length,
      tracks,
    });
  }
  return rows;
}

/** `mean ± sd` with one decimal (`mean` alone for one seed). */
export function formatStat(s: Stat): string {
  if (!Number.isFinite(s.mean)) return '–';
  return s.sd === null ? s.mean.toFixed(1) : `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}`;
}

/** The Markdown tables: one per track, a row per configuration. */
function studyMarkdown(
  rows: readonly StudyRow[],
  info: { readonly seeds: readonly number[]; readonly scale: number; readonly base: DemoOptions },
): string {
  const md: string[] = [
    '# DenseHybrid demo study',
    '',
    `Seeds ${info.seeds.join(', ')}; step counts × ${info.scale} of the base demo (${info.base.closedSteps} closed-set + ${info.base.steps} DenseHybrid steps, batch ${info.base.batchSize}, ${info.base.scenes.size ?? 64}² scenes). Every cell: test AP (%) mean ± sd over seeds; thresholds and any selection use validation splits only. The last column counts the seeds where hybrid AP ≥ generative, ≥ discriminative and > max-softmax (the paper's qualitative result needs all three on every seed).`,
    '',
  ];
  for (const track of DEMO_TRACKS) {
    md.push(
      `## ${DEMO_TRACK_TITLES[track]}`,
      '',
      `| config | closed mIoU | ${DEMO_SCORES.join(' | ')} | hybrid FPR95 | hybrid ≥ gen / ≥ disc / > MSP (all) | time/run |`,
      `|---|---:|${DEMO_SCORES.map(() => '---:').join('|')}|---:|:---:|---:|`,
    );
    for (const r of rows) {
      const t = r.tracks[track];
      const best = Math.max(...DEMO_SCORES.map((s) => t.ap[s].mean).filter(Number.isFinite));
      const cells = DEMO_SCORES.map((s) => {
        const text = formatStat(t.ap[s]);
        return t.ap[s].mean === best ? `**${text}**` : text;
      });
      const w = t.wins;
      md.push(
        `| ${r.config} | ${formatStat(t.closedMIoU)} | ${cells.join(' | ')} | ${formatStat(t.fpr95.hybrid)} | ${w.generative} / ${w.discriminative} / ${w.maxSoftmax} (${w.all}) of ${r.seeds} | ${formatDuration(r.seconds)} |`,
      );
    }
    md.push('');
  }
  md.push('## Configurations', '', ...rows.map((r) => `- **${r.config}**: ${r.question}`), '');
  return md.join('\n');
}

/** Colours of the plotted scores. */
const PLOT_SERIES: readonly { readonly score: DemoScoreName; readonly color: Rgb }[] = [
  { score: 'max-softmax', color: [31, 119, 180] },
  { score: 'generative', color: [148, 103, 189] },
  { score: 'discriminative', color: [44, 160, 44] },
  { score: 'hybrid', color: [214, 39, 40] },
];

/**
 * SVG markup (without the `<svg>` element) of the study plot: one panel per track, AP (mean
 * marker, ± sd bar) of max-softmax, generative, discriminative and hybrid per configuration.
 */
function studyPlotSvg(rows: readonly StudyRow[]): {
  body: string;
  width: number;
  height: number;
} {
  const font = 12;
  const slot = 30;
  const labelSpace = Math.max(...rows.map((r) => textWidth(r.config, font)), 40) + 10;
  const titleWidth = Math.max(...DEMO_TRACKS.map((t) => textWidth(DEMO_TRACK_TITLES[t], font + 1)));
  const panelWidth = Math.max(50 + slot * Math.max(1, rows.length), titleWidth + 50) + 10;
  const legendWidth =
    PLOT_SERIES.reduce((w, { score }) => w + 20 + textWidth(score, font), 10) +
    textWidth('mean ± sd over seeds', font) +
    20;
  const width = Math.max(panelWidth * DEMO_TRACKS.length + 20, legendWidth);
  const top = 62;
  const plotHeight = 300;
  const height = top + plotHeight + labelSpace + 20;
  const svg: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`];
  const values = rows.flatMap((r) =>
    DEMO_TRACKS.flatMap((t) =>
      PLOT_SERIES.flatMap(({ score }) => {
        const s = r.tracks[t].ap[score];
        return [s.mean - (s.sd ?? 0), s.mean + (s.sd ?? 0)];
      }),
    ),
  );
  const finite = values.filter(Number.isFinite);
  const lo = Math.max(0, Math.floor((Math.min(...finite, 100) - 2) / 10) * 10);
  const hi = Math.min(100, Math.ceil((Math.max(...finite, 0) + 2) / 10) * 10);
  const y = (v: number): number =>
    top + plotHeight - ((v - lo) / Math.max(1, hi - lo)) * plotHeight;
  DEMO_TRACKS.forEach((track, p) => {
    const x0 = 10 + p * panelWidth + 40;
    const x1 = x0 + Math.max(slot * Math.max(1, rows.length), panelWidth - 60);
    const pad = (x1 - x0 - slot * rows.length) / 2;
    svg.push(
      svgText(DEMO_TRACK_TITLES[track], (x0 + x1) / 2, 36, { size: font + 1, anchor: 'middle' }),
    );
    for (let v = lo; v <= hi; v += 10) {
      svg.push(
        `<path d="M${x0} ${y(v).toFixed(1)}H${x1}" stroke="rgb(225,225,225)"/>`,
        svgText(String(v), x0 - 4, y(v) - font / 2, { size: font - 1, anchor: 'end' }),
      );
    }
    svg.push(
      `<rect x="${x0}" y="${top}" width="${x1 - x0}" height="${plotHeight}" fill="none" stroke="black"/>`,
    );
    if (p === 0)
      svg.push(
        svgText('AP (%)', 14, top + plotHeight / 2, { size: font, anchor: 'middle', rotate: -90 }),
      );
    rows.forEach((r, i) => {
      const cx = x0 + pad + slot * i + slot / 2;
      PLOT_SERIES.forEach(({ score, color }, k) => {
        const s = r.tracks[track].ap[score];
        if (!Number.isFinite(s.mean)) return;
        const x = cx + (k - 1.5) * 5;
        if (s.sd !== null)
          svg.push(
            `<path d="M${x} ${y(s.mean - s.sd).toFixed(1)}V${y(s.mean + s.sd).toFixed(1)}" stroke="${rgb(color)}" stroke-width="1.5"/>`,
          );
        svg.push(`<circle cx="${x}" cy="${y(s.mean).toFixed(1)}" r="3" fill="${rgb(color)}"/>`);
      });
      svg.push(
        svgText(r.config, cx + font / 3, top + plotHeight + 6, {
          size: font,
          anchor: 'end',
          rotate: -90,
        }),
      );
    });
  });
  let lx = 10;
  for (const { score, color } of PLOT_SERIES) {
    svg.push(
      `<circle cx="${lx + 4}" cy="14" r="4" fill="${rgb(color)}"/>`,
      svgText(score, lx + 12, 7, { size: font }),
    );
    lx += 20 + textWidth(score, font);
  }
  svg.push(svgText('mean ± sd over seeds', lx + 10, 7, { size: font, color: [90, 90, 90] }));
  return { body: svg.join(''), width, height };
}

/** What {@link writeStudyReport} needs. */
export interface StudyReportInput {
  readonly runs: readonly StudyRunRecord[];
  readonly configs: readonly StudyConfig[];
  readonly seeds: readonly number[];
  readonly scale: number;
  readonly base: DemoOptions;
}

/** Writes study.json, study.md, study.svg and study.png into `dir`. */
export async function writeStudyReport(
  dir: string,
  input: StudyReportInput,
): Promise<{ files: string[]; markdown: string }> {
  const rows = aggregateStudy(input.runs, input.configs);
  const markdown = studyMarkdown(rows, input);
  const plot = studyPlotSvg(rows);
  await writeFileAtomic(
    join(dir, 'study.json'),
    JSON.stringify(
      {
        format: 'densehybrid/demo-study',
        version: 1,
        seeds: input.seeds,
        scale: input.scale,
        configs: input.configs,
        rows,
        runs: input.runs,
      },
      null,
      1,
    ),
  );
  await writeFileAtomic(join(dir, 'study.md'), markdown);
  await writeFileAtomic(
    join(dir, 'study.svg'),
    `<svg xmlns="http://www.w3.org/2000/svg" width="${plot.width}" height="${plot.height}" font-family="'DejaVu Sans', Arial, Helvetica, sans-serif">${plot.body}</svg>\n`,
  );
  const png = await drawSvg(createRaster(plot.width, plot.height), plot.body);
  await writePng(join(dir, 'study.png'), png);
  return { files: ['study.md', 'study.json', 'study.svg', 'study.png'], markdown };
}
