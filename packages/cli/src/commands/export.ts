import { SCORE_NAMES } from '@densehybrid/core';
import type { ScoreName } from '@densehybrid/core';
import { ONNX_LAYOUTS, exportOnnx, readOnnxMetadata } from '@densehybrid/onnx';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { formatNumber } from '../io.js';
import { BACKEND_FLAG, CHECKPOINT_FLAG, THREADS_FLAG, setupBackend } from './common.js';

/**
 * `--score` of export: comma-separated or repeated names, `all` for every score.
 * @throws CliUsageError naming an unknown score
 */
function parseScores(values: readonly string[]): ScoreName[] {
  const out: ScoreName[] = [];
  for (const raw of values.flatMap((v) => v.split(','))) {
    const name = raw.trim();
    if (name === 'all') out.push(...SCORE_NAMES);
    else if ((SCORE_NAMES as readonly string[]).includes(name)) out.push(name as ScoreName);
    else
      throw new CliUsageError(
        `--score: expected a comma-separated list of ${SCORE_NAMES.join(' | ')} or all, got ${JSON.stringify(name)}`,
      );
  }
  return out.length === 0 ? ['hybrid'] : [...new Set(out)];
}

/** `--size HxW` → `[H, W]`. */
function parseSize(text: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(text.trim());
  const [h, w] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(h >= 1 && w >= 1)) {
    throw new CliUsageError(
      `--size: expected HxW with positive integers (e.g. 512x1024), got ${JSON.stringify(text)}`,
    );
  }
  return [h, w];
}

/** `densehybrid export`: the detector as one ONNX graph. */
export const exportCommand = defineCommand({
  name: 'export',
  summary: 'export a checkpoint as one ONNX graph: backbone, posterior head, upsampling, scores',
  description: `Writes --out: an ONNX model (opset 17) computing, for float32 RGB images in [0, 1]
([N, H, W, 3] with --layout NHWC, [N, 3, H, W] with NCHW), the anomaly scores (score_<name>,
[N, H, W]), the closed-set prediction (closed, int32) and the logits and posterior logits at the
input size. Height and width are dynamic unless --size is given. The input contract (layout,
range, the normalisation the graph applies itself, the smallest size), the class names and the
checkpoint's meta (e.g. a calibrated threshold) are stored in the model's metadata, so that
\`densehybrid infer|eval --runtime onnx --checkpoint model.onnx\` and any ONNX runtime can use it.

example:
  densehybrid export --checkpoint runs/sh --format onnx --out model.onnx
  densehybrid export --checkpoint runs/sh --out model.onnx --score hybrid,max-softmax --layout NCHW`,
  flags: {
    checkpoint: CHECKPOINT_FLAG,
    format: { type: 'string', choices: ['onnx'], default: 'onnx', description: 'model format' },
    out: {
      type: 'path',
      required: true,
      short: 'o',
      placeholder: 'file',
      description: 'the .onnx file to write',
    },
    score: {
      type: 'string[]',
      placeholder: 'names',
      description: `scores computed in the graph, comma-separated or repeated: ${SCORE_NAMES.join(', ')}, or all (default hybrid)`,
    },
    layout: {
      type: 'string',
      choices: ONNX_LAYOUTS,
      default: 'NHWC',
      description: 'layout of the input and of the logits outputs',
    },
    size: {
      type: 'string',
      placeholder: 'HxW',
      description: 'fix the input size (a static graph); default: dynamic height and width',
    },
    scoresOnly: {
      type: 'boolean',
      description: 'leave out the logits and posterior-logit outputs (scores and closed only)',
    },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const scores = parseScores(flags.score);
    const inputSize = flags.size === undefined ? undefined : parseSize(flags.size);
    if (!flags.out.toLowerCase().endsWith('.onnx'))
      ctx.log(
        `note: --out ${flags.out} does not end in .onnx; infer and eval recognise ONNX files by that suffix`,
      );
    await setupBackend(ctx, flags.backend, flags.threads);
    const t0 = performance.now();
    const bytes = await exportOnnx(flags.checkpoint, {
      scores,
      layout: flags.layout,
      ...(inputSize ? { inputSize } : {}),
      ...(flags.scoresOnly ? { logits: false, posteriorLogits: false } : {}),
    });
    await writeFileAtomic('export', flags.out, bytes);
    const { contract } = readOnnxMetadata(bytes, flags.out);
    const i = contract.input;
    const dims = i.layout === 'NHWC' ? '[N, H, W, 3]' : '[N, 3, H, W]';
    ctx.result(
      {
        out: flags.out,
        format: flags.format,
        bytes: bytes.length,
        seconds: (performance.now() - t0) / 1000,
        input: i,
        outputs: contract.outputs,
        numClasses: contract.numClasses,
      },
      [
        `wrote ${flags.out} (${formatNumber(bytes.length / 1e6)} MB, ONNX opset 17): scores ${Object.keys(contract.outputs.scores).join(', ')}, K=${contract.numClasses}`,
        `input ${i.name}: float32 ${dims} ${i.layout}, RGB in [0, 1]${i.normalization ? ' (ImageNet normalisation inside the graph)' : ''}, ${i.dynamic ? `any H, W >= ${i.minSize}` : `fixed ${i.size?.join('x')} (HxW)`}`,
      ],
    );
  },
});
