// The LDN's aspect-dependent pooling grids, max(1, round(g·W/H)) (Python's round, half to even,
// of a float64 ratio in tfjs and in the authors' PyTorch code), are computed in int64 in the
// exported graphs: ONNX Runtime Web's WebGPU build has no float64 kernels. These tests check the
// int64 nodes, run by ONNX Runtime, against the float64 rule at every size 1…4096, and that no
// preset's export holds a float64 tensor.
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { LADDER_DENSENET_PRESET_ARCHITECTURES, createBackbone } from '@densehybrid/backbones';
import { SCORE_NAMES, createDenseHybridModel, datasetPosteriorHead } from '@densehybrid/core';
import { ONNX_IR_VERSION, ONNX_OPSET, exportOnnx, loadOnnxDetector } from '@densehybrid/onnx';
import { GraphBuilder } from '../src/graph.js';
import { aspectGrid, aspectRuleIsExact } from '../src/ops.js';
import { TENSOR_TYPES, declaredTypes, decodeGraph, encodeModel } from '../src/proto.js';
import {
  BACKBONE_NAMES,
  K,
  calibratedModel,
  relativeError,
  testBackboneConfig,
  testImage,
  tfjsReference,
} from './helpers.js';

/** Python 3's round(x) for x ≥ 0 (half to even), written independently of the packages' copies. */
function pythonRound(x: number): number {
  const down = Math.floor(x);
  const frac = x - down;
  if (frac !== 0.5) return frac < 0.5 ? down : down + 1;
  return down % 2 === 0 ? down : down + 1;
}

/** The architectures' rule: `max(1, round(ar * g))`, `ar = W / H` in float64 (the authors' SPP). */
const floatRule = (g: number, w: number, h: number): number =>
  Math.max(1, pythonRound((w / h) * g));

/** The exact rational rule, in integers: max(1, round half to even of g·w/h). */
function exactRule(g: number, w: number, h: number): number {
  const a = g * w;
  const q = Math.floor(a / h);
  const twice = 2 * (a - q * h);
  const r = twice > h ? q + 1 : twice < h ? q : q + (q % 2);
  return Math.max(1, r);
}

const SIZE = 4096;
/** Heights per ONNX Runtime run (a [ROWS, SIZE] block of sizes). */
const ROWS = 256;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
});

describe('the int64 pooling-grid rule', () => {
  it('ONNX Runtime running the int64 nodes gives the float64 rule at every H, W in 1…4096, for the presets’ grids', async () => {
    const grids = [
      ...new Set(Object.values(LADDER_DENSENET_PRESET_ARCHITECTURES).flatMap((a) => a.sppGrids)),
    ].sort((a, b) => a - b);
    expect(grids).toEqual([1, 2, 4, 8]);
    // a graph: heights h0 … h0+ROWS−1 (rows) × widths 1 … SIZE (columns) → one int32 grid map per g
    const g = new GraphBuilder();
    const one = g.int64([1], []);
    const rows = g.op('Range', ['h0', g.op('Add', ['h0', g.int64([ROWS], [])]), one]);
    const heights = g.op('Unsqueeze', [rows, g.int64([1])]); // [ROWS, 1]
    const widths = g.op('Range', [one, g.int64([SIZE + 1], []), one]); // [SIZE]
    for (const grid of grids)
      g.op('Cast', [aspectGrid(g, widths, heights, grid)], { to: { i: 6 } }, `grid_${grid}`);
    const bytes = encodeModel({
      irVersion: ONNX_IR_VERSION,
      opsetVersion: ONNX_OPSET,
      producerName: 'test',
      producerVersion: '0',
      docString: '',
      graph: {
        name: 'grid_rule',
        nodes: g.nodes,
        initializers: await g.initializers(),
        inputs: [{ name: 'h0', elemType: TENSOR_TYPES.int64, dims: [] }],
        outputs: grids.map((grid) => ({
          name: `grid_${grid}`,
          elemType: TENSOR_TYPES.int32,
          dims: [ROWS, SIZE],
        })),
      },
      metadata: {},
    });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    let mismatches = 0;
    let halfWay = 0;
    let halfUpWouldDiffer = 0;
    for (let h0 = 1; h0 <= SIZE; h0 += ROWS) {
      const out = await session.run({
        h0: new ort.Tensor('int64', BigInt64Array.of(BigInt(h0)), []),
      });
      for (const grid of grids) {
        const got = out[`grid_${grid}`]?.data as Int32Array;
        for (let r = 0; r < ROWS; r++) {
          const h = h0 + r;
          for (let w = 1; w <= SIZE; w++) {
            const want = floatRule(grid, w, h);
            if (got[r * SIZE + w - 1] !== want) mismatches++;
            if ((2 * grid * w) % h === 0 && ((2 * grid * w) / h) % 2 === 1) {
              halfWay++;
              if (Math.max(1, Math.floor((2 * grid * w + h) / (2 * h))) !== want)
                halfUpWouldDiffer++;
            }
          }
        }
      }
    }
    expect(mismatches).toBe(0);
    // the check sees the half-way ratios, where round half up (Math.round) would be wrong
    expect(halfWay).toBeGreaterThan(40_000);
    expect(halfUpWouldDiffer).toBeGreaterThan(20_000);
  });

  it('aspectRuleIsExact says which grids need float64: the same verdict as brute force over 1…1024', () => {
    const inexact: number[] = [];
    for (let grid = 1; grid <= 16; grid++) {
      let differs = false;
      for (let h = 1; h <= 1024 && !differs; h++)
        for (let w = 1; w <= 1024; w++)
          if (floatRule(grid, w, h) !== exactRule(grid, w, h)) {
            differs = true;
            break;
          }
      if (differs) inexact.push(grid);
      expect(aspectRuleIsExact(grid), `grid ${grid}`).toBe(!differs);
    }
    expect(inexact).toEqual([7, 11, 13, 14, 15]);
    // 29×14 with grid 7: fl(29/14)·7 = 14.500000000000002 rounds to 15, the exact 14.5 to 14
    expect([floatRule(7, 29, 14), exactRule(7, 29, 14)]).toEqual([15, 14]);
  });
});

describe('no float64 in the exported graphs', () => {
  it.each(BACKBONE_NAMES.map((name) => [name]))(
    '%s: every tensor, initializer and Cast is float32, int64, int32 or bool',
    async (name) => {
      const backbone = createBackbone({ ...testBackboneConfig(name), seed: 1 });
      const model = createDenseHybridModel({
        backbone,
        head: datasetPosteriorHead({ channels: backbone.preLogitChannels }),
      });
      try {
        // the default export, with every score
        const bytes = await exportOnnx(model, { scores: [...SCORE_NAMES] });
        const types = declaredTypes(bytes);
        expect(types.length).toBeGreaterThan(10);
        const allowed: number[] = [
          TENSOR_TYPES.float,
          TENSOR_TYPES.int64,
          TENSOR_TYPES.int32,
          TENSOR_TYPES.bool,
        ];
        expect(types.filter((t) => !allowed.includes(t.type))).toEqual([]);
        expect(types.some((t) => t.where.startsWith('Cast'))).toBe(true);
        expect(decodeGraph(bytes).nodes.filter((n) => n.opType === 'Round')).toEqual([]);
      } finally {
        model.dispose();
      }
    },
  );

  describe('a grid whose float64 rule is inexact (7) keeps float64 nodes', () => {
    let model: ReturnType<typeof calibratedModel>;
    beforeAll(() => {
      model = calibratedModel({
        architecture: 'ladderDenseNet',
        preset: 'tiny',
        numClasses: K,
        growthRate: 4,
        blockConfig: [1, 1, 1, 1],
        numInitFeatures: 8,
        sppSize: 8,
        sppGrids: [7, 2],
        upSizes: [8, 8, 8],
      });
    });
    afterAll(() => model.dispose());

    it('and equals tfjs at 928×448, whose 29×14 pooled tensor gets 7×15 cells (the exact rule: 7×14)', async () => {
      const bytes = await exportOnnx(model);
      const doubles = declaredTypes(bytes).filter((t) => t.type === TENSOR_TYPES.double);
      expect(doubles.length).toBeGreaterThan(0);
      // grid 2 in int64: one Round, the grid-7 one
      expect(decodeGraph(bytes).nodes.filter((n) => n.opType === 'Round').length).toBe(1);
      const detector = await loadOnnxDetector(bytes, { threads: 1 });
      try {
        const image = testImage(928, 448, 3);
        const before = tf.memory().numTensors;
        const ref = await tfjsReference(model, image);
        expect(tf.memory().numTensors).toBe(before);
        const got = await detector.detect(image);
        expect(relativeError(got.scores.hybrid, ref.scores.hybrid)).toBeLessThan(1e-4);
      } finally {
        detector.dispose();
      }
    });
  });
});
