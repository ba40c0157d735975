export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

// framework
export { runCli, EXIT_CODES, formatMainHelp, formatCommandHelp, flagName } from './run.js';
export type { RunCliOptions } from './run.js';
export {
  parseArgs,
  CliUsageError,
  GLOBAL_FLAGS,
  kebabCase,
  camelCase,
  formatFlagHelp,
} from './args.js';
export type {
  FlagType,
  FlagSpec,
  FlagSpecs,
  PositionalSpec,
  ParsedFlags,
  GlobalFlags,
  ParseArgsResult,
} from './args.js';
export { defineCommand } from './command.js';
export type { Command, AnyCommand, CommandContext } from './command.js';
export { COMMANDS } from './commands/index.js';
export { processIo, createProgress, formatDuration, formatNumber, yieldToEventLoop } from './io.js';
export type { CliIo, Progress, ProgressOptions } from './io.js';
export { writeFileAtomic, openStagedDir } from './atomic.js';
export type { StagedDir, StagedDirOptions } from './atomic.js';

// evaluation
export { evaluateFolds, binaryAnomalyLabels } from './evaluate.js';
export type {
  EvaluateFoldsOptions,
  EvaluationResult,
  EvaluationFold,
  OpenSetEvaluation,
  FrameScores,
  FrameScorer,
  MultiFrameScores,
  MultiFrameScorer,
  ScoreEvaluation,
} from './evaluate.js';
export { parseScoreList } from './commands/eval.js';
export { OpenSetSweep, float16OrderKey } from './open-set-sweep.js';
export type { OpenSetSweepJSON } from './open-set-sweep.js';
export { BENCHMARK_PROTOCOLS, DATASET_NAMES, openDataset, splitFolds } from './datasets.js';
export type { BenchmarkProtocol, DatasetName, FolderAdapterOptions } from './datasets.js';
export {
  loadDetector,
  saveModel,
  updateModelMeta,
  buildModel,
  createBackbone,
  BACKBONE_NAMES,
  SCORE_NAMES,
} from './model.js';
export type {
  Detector,
  ModelMeta,
  ModelConfig,
  StoredThreshold,
  ScoreName,
  BackboneName,
} from './model.js';
export { writeEvaluationReport, reportMarkdown, metricsDocument } from './report.js';
export type { ReportContext } from './report.js';

// rendering
export {
  anomalyHeatmap,
  overlay,
  colorbar,
  colormapLut,
  COLORMAP_NAMES,
  DEFAULT_HEATMAP_OPTIONS,
} from './render/colormap.js';
export type { ColormapName, HeatmapOptions, HeatmapResult } from './render/colormap.js';
export {
  colorizeLabels,
  labelPalette,
  legend,
  openSetLegendEntries,
  CITYSCAPES_PALETTE,
  UNKNOWN_COLOR,
  IGNORE_COLOR,
} from './render/labels.js';
export type { Rgb, ColorizeLabelsOptions, LegendEntry } from './render/labels.js';
export { plotCurves, DEFAULT_PLOT_OPTIONS } from './render/plot.js';
export type { CurveSeries, PlotOptions, PlotResult } from './render/plot.js';
export { sideBySide } from './render/panels.js';
export type { SideBySideOptions } from './render/panels.js';
export {
  createRaster,
  drawText,
  drawTextVertical,
  fillRect,
  setPixel,
  textWidth,
  textHeight,
} from './render/font.js';
export type { Raster } from './render/font.js';
export { encodePng, writePng } from './render/png.js';
export { encodeNpy, decodeNpy, writeNpy, readNpy } from './render/npy.js';
/** Scalar float16 conversions, re-exported from `@densehybrid/metrics-openiou`. */
export { float16Bits, float16Value } from '@densehybrid/metrics-openiou';
export type { NpyDtype, NpyResult } from './render/npy.js';
