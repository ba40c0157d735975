// Dev-only (not run in CI): `densehybrid import --arch ldn121` against the PyTorch module of
// authors_ldn.py (the authors' LadderDenseNetTH structure and key names). Run
// `authors_ldn.py make <dir>` first; the packages built (npx nx run @densehybrid/cli:build).
//   nice -n 10 node packages/backbones/scripts/authors_ldn.mjs /tmp/ldn
// Checks, printing the numbers:
//   1. per K (12, 19): `densehybrid import ldn121_k<K>.pt` (the CLI, a separate process), then
//      loadModel → predict at 256×512 and 243×487 on the wasm backend: logits, OOD logit and
//      hybrid score vs PyTorch's eval forward (float64), as max |Δ| / max |ref| (bound 1e-4),
//      next to PyTorch float32 vs float64 for scale; and `densehybrid infer` once (its scores
//      are float16: bound 1e-3 relative);
//   2. readTorchCheckpoint on real torch.save output (fp32, fp16, bf16, int64, a transposed, a
//      sliced and a channels-last tensor), zip and legacy format: values exact;
//   3. pickles made with Python that run os.system / eval when torch.load-ed: refused, nothing run;
//   4. the test fixture generator (test-support/torch-zip.ts, zip and legacy): its files read
//      back by torch.load with the values, dtypes, shapes and strides written.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { decodeSafetensor, readSafetensors, readTorchCheckpoint } from '@densehybrid/backbones';
import { readNpy } from '@densehybrid/metrics-openiou/node';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
// core and data-mixing sit above backbones (not its dependencies): this dev script loads their
// build output by path
const { hybridScore, loadModel } = await import(join(root, 'packages/core/dist/index.js'));
const { writePng } = await import(join(root, 'packages/data-mixing/dist/index.js'));
const dir = resolve(process.argv[2] ?? '/tmp/ldn');
const cli = (...args) =>
  execFileSync(process.execPath, [join(root, 'packages/cli/dist/bin.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const python = (...args) =>
  execFileSync('python3', [join(here, 'authors_ldn.py'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: execFileSync('getconf', ['PATH'], { encoding: 'utf8' }).trim() },
  });
await tf.setBackend('wasm');
let failures = 0;
const check = (ok, line) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
  if (!ok) failures += 1;
};
const rel = (a, b) => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return [d / s, d];
};
const fmt = ([r, d]) => `${r.toExponential(2)} (max |Δ| ${d.toExponential(2)})`;

// 1. import → loadModel → predict vs PyTorch
const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
for (const k of [12, 19]) {
  const out = join(dir, `model_k${k}`);
  const t0 = Date.now();
  const r = JSON.parse(
    cli(
      'import',
      join(dir, `ldn121_k${k}.pt`),
      '--arch',
      'ldn121',
      '--classes',
      String(k),
      '--out',
      out,
      '--json',
    ),
  );
  console.log(
    `K=${k}: import ${(Date.now() - t0) / 1000} s: ${r.sourceKeys} keys: ${r.mapped} mapped, ${r.converted} converted, skipped ${JSON.stringify(r.skipped)}, groups ${JSON.stringify(r.groups)}`,
  );
  check(
    r.sourceKeys === info[`k${k}`].state_dict_keys &&
      r.converted === 6 &&
      r.missingGroups.length === 0,
    `K=${k}: every one of the ${info[`k${k}`].state_dict_keys} state_dict keys accounted for`,
  );
  const detector = await loadModel(out);
  for (const [h, w] of [
    [256, 512],
    [243, 487],
  ]) {
    const io = await readSafetensors(join(dir, `io_k${k}_${h}x${w}.safetensors`));
    const get = (n) => decodeSafetensor(io.tensors.get(n));
    const image = get('image');
    const x = tf.tidy(() => tf.div(tf.tensor(Float32Array.from(image), [1, h, w, 3]), 255));
    const t1 = Date.now();
    const { logits, posteriorLogits } = detector.predict(x);
    const score = hybridScore(logits, posteriorLogits);
    const [l, g, s] = [logits.dataSync(), posteriorLogits.dataSync(), score.dataSync()];
    const seconds = (Date.now() - t1) / 1000;
    const dl = rel(l, get('logits'));
    const dg = rel(g, get('ood_logit'));
    const ds = rel(s, get('hybrid'));
    const f32 = [
      rel(get('logits_f32'), get('logits')),
      rel(get('ood_logit_f32'), get('ood_logit')),
      rel(get('hybrid_f32'), get('hybrid')),
    ];
    check(
      Math.max(dl[0], dg[0], ds[0]) < 1e-4,
      `K=${k} ${h}×${w} (wasm ${seconds.toFixed(1)} s): logits ${fmt(dl)}, OOD logit ${fmt(dg)}, hybrid ${fmt(ds)}; PyTorch float32: ${f32.map((v) => v[0].toExponential(2)).join(', ')}`,
    );
    if (k === 19 && h === 243) {
      // the CLI end to end: infer writes float16 scores
      const png = join(dir, 'image_243x487.png');
      await writePng(png, { width: w, height: h, channels: 3, data: Uint8Array.from(image) });
      const maps = join(dir, 'infer');
      rmSync(maps, { recursive: true, force: true });
      cli('infer', '--checkpoint', out, png, '--out', maps, '--backend', 'wasm', '--json');
      const npy = await readNpy(join(maps, 'image_243x487.scores.npy'));
      const di = rel(npy.data, get('hybrid'));
      check(di[0] < 1e-3, `densehybrid infer K=19 ${h}×${w}: hybrid (float16 file) ${fmt(di)}`);
    }
    tf.dispose([x, logits, posteriorLogits, score]);
  }
  detector.dispose();
}

// 2. the reader on real torch.save output
const want = JSON.parse(readFileSync(join(dir, 'real_misc.json'), 'utf8'));
for (const file of ['real_misc.pt', 'real_misc_legacy.pt']) {
  const misc = await readTorchCheckpoint(join(dir, file));
  for (const [name, e] of Object.entries(want)) {
    const t = misc.tensors.get(name);
    // int64 beyond int32 (decodeSafetensor's range): the raw values
    const v =
      t.dtype === 'I64'
        ? Array.from(new BigInt64Array(t.bytes.slice().buffer), Number)
        : Array.from(decodeSafetensor(t));
    const same =
      JSON.stringify(t.shape) === JSON.stringify(e.shape) &&
      v.every((x, i) => x === Math.fround(e.values[i]));
    check(
      same,
      `real torch.save (${misc.format}${misc.stateDictKey ? `, under "${misc.stateDictKey}"` : ''}) ${name}: ${t.dtype} ${JSON.stringify(t.shape)} (stride ${JSON.stringify(e.stride)}) exact`,
    );
  }
}

// 3. malicious pickles made by Python
for (const [file, global] of [
  ['evil_system.pt', 'posix.system'],
  ['evil_eval.pt', '__builtin__.eval'], // protocol 2 writes Python 2's module name,
]) {
  let message = '';
  try {
    await readTorchCheckpoint(join(dir, file));
  } catch (e) {
    message = e.message;
  }
  check(
    message.includes(`got the global ${global}; refused`) && !existsSync(join(dir, 'PWNED')),
    `${file}: refused (${message.slice(0, 90)}…), nothing run`,
  );
}

// 4. the fixture generator vs torch.load
const gen = join(root, 'test-support', `.torch-zip.${process.pid}.mjs`);
writeFileSync(
  gen,
  ts.transpileModule(readFileSync(join(root, 'test-support/torch-zip.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText,
);
try {
  const { writeTorchLegacy, writeTorchZip } = await import(gen);
  const storage = Array.from({ length: 30 }, (_, i) => i * 0.25 - 3);
  const cases = {
    f32: { shape: [2, 3], data: [1, -2, 3.5, 2 ** -27, 6e7, 0] },
    f16: { dtype: 'F16', shape: [4], data: [0.5, -2, 65504, 6.103515625e-5] },
    bf16: { dtype: 'BF16', shape: [3], data: [1, -0.5, 256] },
    f64: { dtype: 'F64', shape: [2], data: [Math.PI, -1e-300] },
    i64: { dtype: 'I64', shape: [3], data: [3, -4, 2 ** 40] },
    i32: { dtype: 'I32', shape: [], data: [-7] },
    t: { shape: [6, 5], view: { storage, offset: 0, stride: [1, 6] } },
    s: { shape: [2, 3], view: { storage, offset: 7, stride: [6, 2] }, shareStorageWith: 't' },
  };
  const expected = {};
  const dtypes = {
    F32: 'torch.float32',
    F16: 'torch.float16',
    BF16: 'torch.bfloat16',
    F64: 'torch.float64',
    I64: 'torch.int64',
    I32: 'torch.int32',
  };
  for (const [name, c] of Object.entries(cases)) {
    const values = c.view
      ? (() => {
          const out = [];
          const [a, b] = c.shape;
          for (let i = 0; i < a; i++)
            for (let j = 0; j < b; j++)
              out.push(c.view.storage[c.view.offset + i * c.view.stride[0] + j * c.view.stride[1]]);
          return out;
        })()
      : c.data;
    expected[name] = {
      shape: c.shape,
      dtype: dtypes[c.dtype ?? 'F32'],
      values,
      ...(c.view ? { stride: c.view.stride } : {}),
    };
  }
  for (const [label, options, write] of [
    ['plain', {}, writeTorchZip],
    [
      'wrapped, unaligned, named',
      { wrapKey: 'state_dict', align: false, archiveName: 'ldn' },
      writeTorchZip,
    ],
    ['legacy', {}, writeTorchLegacy],
    ['legacy wrapped', { wrapKey: 'state_dict' }, writeTorchLegacy],
  ]) {
    const file = join(dir, `fixture_${label.replace(/[ ,]+/g, '_')}.pt`);
    writeFileSync(file, write(cases, options));
    writeFileSync(`${file}.json`, JSON.stringify(expected));
    let ok = true;
    try {
      console.log(python('check-fixture', file, `${file}.json`).trimEnd());
    } catch (e) {
      console.log(e.stdout);
      ok = false;
    }
    check(ok, `fixture generator (${label}) read by torch.load`);
  }
} finally {
  rmSync(gen, { force: true });
}
console.log(failures === 0 ? 'OK: all checks pass' : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
