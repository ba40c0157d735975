#!/usr/bin/env node
// Proves each package installs alone from its npm tarball, outside the monorepo:
// `npm pack` every package, install the tarballs into a fresh empty project in a temp dir
// (tfjs comes from the registry as the peer dependency a user would add), then import each
// package and use it. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'densehybrid-pack-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const dirs = readdirSync(join(root, 'packages'));
  const tarballs = {};
  for (const dir of dirs) {
    const out = run(
      'npm',
      ['pack', '--silent', '--pack-destination', work],
      join(root, 'packages', dir),
    );
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    tarballs[pkg.name] = join(work, out.trim().split('\n').pop());
  }
  const check = (name, project, deps, script) => {
    const dir = join(work, project);
    run('mkdir', ['-p', dir]);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: project, private: true, type: 'module', dependencies: deps }, null, 2),
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir);
    writeFileSync(join(dir, 'check.mjs'), script);
    const out = run(process.execPath, ['check.mjs'], dir);
    console.log(`pack-check ${name}: ${out.trim()}`);
  };
  // metrics-openiou alone: no other package, no tfjs.
  check(
    '@densehybrid/metrics-openiou',
    'only-metrics',
    { '@densehybrid/metrics-openiou': `file:${tarballs['@densehybrid/metrics-openiou']}` },
    `import * as m from '@densehybrid/metrics-openiou';
import { readdirSync } from 'node:fs';
const installed = readdirSync('node_modules').filter((d) => !d.startsWith('.'));
if (installed.join() !== '@densehybrid') throw new Error('unexpected runtime dependencies: ' + installed);
const r = m.anomalyMetrics(new Float32Array([0.1, 0.9, 0.8, 0.2]), new Uint8Array([0, 1, 1, 0]));
if (r.ap !== 1 || r.auroc !== 1) throw new Error('wrong metrics ' + JSON.stringify(r));
console.log('ok, exports: ' + Object.keys(m).length + ', node_modules: ' + installed.join());
`,
  );
  const local = (names) =>
    Object.fromEntries(
      names.map((d) => [`@densehybrid/${d}`, `file:${tarballs[`@densehybrid/${d}`]}`]),
    );
  // tfjs-wasm-training with only its own dependency and the tfjs peers from the registry: a tfjs
  // user's wasm backend trains a conv net (tfjs' own wasm backend lacks Conv2DBackpropFilter).
  check(
    '@densehybrid/tfjs-wasm-training',
    'only-wasm-training',
    {
      ...local(['metrics-openiou', 'tfjs-wasm-training']),
      '@tensorflow/tfjs-core': '4.22.0',
      '@tensorflow/tfjs-backend-wasm': '4.22.0',
      '@tensorflow/tfjs-layers': '4.22.0',
    },
    `import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels } from '@densehybrid/tfjs-wasm-training';
await tf.setBackend('wasm');
const r = registerTrainingKernels();
if (!r.kernels.includes('Conv2DBackpropFilter')) throw new Error('no filter gradient: ' + r.kernels);
const w = tf.variable(tf.ones([3, 3, 2, 8]));
const x = tf.ones([1, 6, 6, 2]);
const g = tf.grad((f) => tf.sum(tf.conv2d(x, f, 1, 'same')))(w);
const v = (await g.data())[4 * 16]; // centre tap, channel 0: every one of the 36 pixels sees it
if (v !== 36) throw new Error('gradient ' + v);
console.log('ok, wasm kernels registered: ' + r.kernels.length);
`,
  );
  // core with its own dependencies (as published tarballs) and only tfjs-core + the cpu backend:
  // core peers on tfjs-core alone; a model file written with saveModel loads as a detector.
  check(
    '@densehybrid/core',
    'only-core',
    {
      ...local(['metrics-openiou', 'tfjs-wasm-training', 'losses', 'backbones', 'core']),
      '@tensorflow/tfjs-core': '4.22.0',
      '@tensorflow/tfjs-backend-cpu': '4.22.0',
    },
    `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as core from '@densehybrid/core';
await tf.setBackend('cpu');
const logits = tf.tensor4d([2, 0, 0, 5], [1, 1, 1, 4]);
const s = await core.maxSoftmaxScore(logits).data();
if (!(s[0] > 0 && s[0] < 0.1)) throw new Error('max-softmax score ' + s[0]);
console.log('ok, exports: ' + Object.keys(core).length);
`,
  );
  // data-mixing with sharp from the registry: reads back a PNG it wrote.
  check(
    '@densehybrid/data-mixing',
    'only-data-mixing',
    { ...local(['metrics-openiou', 'data-mixing']) },
    `import * as dm from '@densehybrid/data-mixing';
await dm.writePng('l.png', { data: new Uint8Array([0, 1, 2, 255]), width: 2, height: 2 });
const back = await dm.readLabel('l.png');
if (back.data.join() !== '0,1,2,255') throw new Error('label read back as ' + back.data.join());
console.log('ok, exports: ' + Object.keys(dm).length);
`,
  );
  // losses and backbones, each with its own dependencies and tfjs-core + the cpu backend.
  for (const [name, script] of [
    [
      'losses',
      `import * as l from '@densehybrid/losses';
const lse = l.logSumExpLastAxis(tf.tensor2d([[0, 0]]));
const v = (await lse.data())[0];
if (Math.abs(v - Math.LN2) > 1e-6) throw new Error('logsumexp ' + v);
console.log('ok, exports: ' + Object.keys(l).length);`,
    ],
    [
      'backbones',
      `import * as b from '@densehybrid/backbones';
const net = b.createBackbone({ name: 'tiny', numClasses: 3, seed: 1 });
const out = net.apply(tf.zeros([1, 32, 32, 3]));
if (out.logits.shape[3] !== 3) throw new Error('logits ' + out.logits.shape);
console.log('ok, exports: ' + Object.keys(b).length + ', logits ' + out.logits.shape.join('x'));`,
    ],
  ]) {
    check(
      `@densehybrid/${name}`,
      `only-${name}`,
      {
        ...local(['metrics-openiou', 'tfjs-wasm-training', name]),
        '@tensorflow/tfjs-core': '4.22.0',
        '@tensorflow/tfjs-backend-cpu': '4.22.0',
      },
      `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
await tf.setBackend('cpu');
${script}
`,
    );
  }
  // onnx with its own dependencies (protobufjs from the registry) and tfjs-core + the cpu backend,
  // without onnxruntime-node (an optional peer): a model exports, its contract reads back, and
  // the browser entry (`/runtime`) imports without tfjs or Node built-ins.
  check(
    '@densehybrid/onnx',
    'only-onnx',
    {
      ...local(['metrics-openiou', 'tfjs-wasm-training', 'losses', 'backbones', 'core', 'onnx']),
      '@tensorflow/tfjs-core': '4.22.0',
      '@tensorflow/tfjs-backend-cpu': '4.22.0',
    },
    `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createBackbone } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead } from '@densehybrid/core';
import { exportOnnx, readOnnxMetadata } from '@densehybrid/onnx';
import * as runtime from '@densehybrid/onnx/runtime';
await tf.setBackend('cpu');
const backbone = createBackbone({ name: 'tiny', numClasses: 3, seed: 1 });
const model = createDenseHybridModel({ backbone, head: datasetPosteriorHead({ channels: backbone.preLogitChannels }) });
const bytes = await exportOnnx(model);
const { contract, opset } = runtime.readOnnxMetadata(bytes);
if (opset !== 17 || contract.input.layout !== 'NHWC' || readOnnxMetadata(bytes).contract.numClasses !== 3) throw new Error('contract ' + JSON.stringify(contract.input));
console.log('ok, exported ' + bytes.length + ' bytes, runtime exports: ' + Object.keys(runtime).length);
`,
  );
  // the CLI with every local package as a tarball: its bin runs.
  const all = Object.keys(tarballs).map((n) => n.replace('@densehybrid/', ''));
  check(
    '@densehybrid/cli',
    'only-cli',
    local(all),
    `import { execFileSync } from 'node:child_process';
const help = execFileSync('node_modules/.bin/densehybrid', ['--help'], { encoding: 'utf8' });
if (!/usage: densehybrid <command>/.test(help) || !/^  demo /m.test(help)) throw new Error('unexpected help: ' + help.slice(0, 200));
const { runCli, COMMANDS } = await import('@densehybrid/cli');
console.log('ok, commands: ' + COMMANDS.map((c) => c.name).join(' ') + ', runCli ' + typeof runCli);
`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
