// Dev-only (not run in CI): issue 16's done-when, end to end through the CLI. Imports a checkpoint
// saved by PyTorch from the published architecture (authors_ldn.py / authors_wrn38.py) with
// `densehybrid import`, runs `densehybrid infer --raw` (a separate process, as a user would) on
// the 8-bit input PNG, and compares its float32 files with PyTorch's float64 eval forward on
// exactly png / 255: logits, OOD logit (the authors' 2-way head, channel 1 − channel 0) and hybrid
// score, as max |Δ| / max |ref| (bound 1e-4). The packages built (npx nx run @densehybrid/cli:build).
//
//   # LDN-121, K = 12 and 19, 256×512 and 243×487 (authors_ldn.py make: the uint8 image in
//   # io_k<K>_<H>x<W>.safetensors, written here as a PNG, lossless; its decode is checked)
//   PATH=$(getconf PATH) nice -n 10 python3 packages/backbones/scripts/authors_ldn.py make /tmp/ldn
//   nice -n 10 node packages/backbones/scripts/authors_infer_check.mjs ldn /tmp/ldn
//   # WRN-38 DeepLabV3+, K = 19, 256×512 (authors_wrn38.py forward --uint8 1 writes input.png)
//   PATH=$(getconf PATH) nice -n 10 python3 packages/backbones/scripts/authors_wrn38.py \
//       forward /tmp/wrn38u8 --uint8 1
//   nice -n 10 node packages/backbones/scripts/authors_infer_check.mjs wrn38 /tmp/wrn38u8
//
// Options after the folder: --backend <wasm|cpu|…> (default wasm), --threads <n> (default 2).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensor, readSafetensors } from '@densehybrid/backbones';
import { readNpy } from '@densehybrid/metrics-openiou/node';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
// data-mixing sits above backbones (not its dependency): loaded by path from its build output
const { readImage, writePng } = await import(join(root, 'packages/data-mixing/dist/index.js'));
const [mode, dirArg, ...rest] = process.argv.slice(2);
if (mode !== 'ldn' && mode !== 'wrn38') {
  console.error('usage: authors_infer_check.mjs ldn|wrn38 <dir> [--backend wasm] [--threads 2]');
  process.exit(2);
}
const dir = resolve(dirArg ?? (mode === 'ldn' ? '/tmp/ldn' : '/tmp/wrn38u8'));
const opt = (name, fallback) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : fallback);
const backend = opt('--backend', 'wasm');
const threads = opt('--threads', '2');
const bin = join(root, 'packages/cli/bin/densehybrid.js');
const cli = (...args) => {
  const t0 = Date.now();
  const out = execFileSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  return { out, seconds: (Date.now() - t0) / 1000 };
};
let failures = 0;
const rows = [];
const rel = (a, b) => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
};

/**
 * One model: import `pt`, infer --raw on the `cases` ({ name, io, image, refs }) in one call,
 * compare. `refs` maps infer's file to the io tensor name.
 */
async function check(label, pt, arch, k, cases) {
  const model = join(dir, `infer-check-${arch}-k${k}`);
  rmSync(model, { recursive: true, force: true });
  const imp = cli('import', pt, '--arch', arch, '--classes', String(k), '--out', model, '--json');
  const r = JSON.parse(imp.out);
  const accounted = r.unmapped === 0 && r.missingGroups.length === 0 && r.converted === 6;
  console.log(
    `${label}: import ${imp.seconds.toFixed(1)} s: ${r.sourceKeys} keys, ${r.mapped} mapped, ${r.converted} converted, skipped ${JSON.stringify(r.skipped)}, ${r.unmapped} unmapped`,
  );
  if (!accounted) failures++;
  const pngs = [];
  for (const c of cases) {
    const image = await readImage(c.png);
    const same =
      image.width === c.width &&
      image.height === c.height &&
      image.data.every((v, i) => v === c.image[i]);
    if (!same) {
      console.log(`FAIL ${label} ${c.name}: ${c.png} does not decode to PyTorch's input bytes`);
      failures++;
    }
    pngs.push(c.png);
  }
  const maps = join(dir, `infer-check-${arch}-k${k}-maps`);
  rmSync(maps, { recursive: true, force: true });
  const inf = cli(
    'infer',
    '--checkpoint',
    model,
    ...pngs,
    '--out',
    maps,
    '--raw',
    '--backend',
    backend,
    '--threads',
    threads,
    '--json',
  );
  console.log(`${label}: infer --raw ${inf.seconds.toFixed(1)} s for ${pngs.length} image(s)`);
  for (const c of cases) {
    const stem = c.png.slice(c.png.lastIndexOf('/') + 1, -4);
    const row = { model: label, size: `${c.height}×${c.width}` };
    for (const [file, ref] of Object.entries(c.refs)) {
      const npy = await readNpy(join(maps, `${stem}.${file}.npy`));
      const want = file === 'logits' ? [c.height, c.width, k] : [c.height, c.width];
      if (npy.dtype !== '<f4' || JSON.stringify(npy.shape) !== JSON.stringify(want)) {
        console.log(`FAIL ${label} ${file}: ${npy.dtype} ${JSON.stringify(npy.shape)}`);
        failures++;
      }
      const v = rel(npy.data, ref);
      row[file] = v;
      if (!(v <= 1e-4)) failures++;
    }
    rows.push(row);
  }
}

const get = (io, n) => decodeSafetensor(io.tensors.get(n));
if (mode === 'ldn') {
  for (const k of [12, 19]) {
    const cases = [];
    for (const [h, w] of [
      [256, 512],
      [243, 487],
    ]) {
      const io = await readSafetensors(join(dir, `io_k${k}_${h}x${w}.safetensors`));
      const image = Uint8Array.from(get(io, 'image'));
      // PyTorch ran on image / 255 (float64); PNG is lossless, checked by decoding it back
      const png = join(dir, `infer-check-k${k}-${h}x${w}.png`);
      await writePng(png, { width: w, height: h, data: image });
      cases.push({
        name: `${h}×${w}`,
        png,
        image,
        width: w,
        height: h,
        refs: {
          logits: get(io, 'logits'),
          'posterior-logit': get(io, 'ood_logit'),
          hybrid: get(io, 'hybrid'),
        },
      });
    }
    await check(`LDN-121 K=${k}`, join(dir, `ldn121_k${k}.pt`), 'ldn121', k, cases);
  }
} else {
  const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
  if (!info.uint8) {
    console.error(`${dir}: expected authors_wrn38.py forward … --uint8 1 output (input.png)`);
    process.exit(2);
  }
  const io = await readSafetensors(join(dir, 'io.safetensors'));
  const [h, w] = [info.height, info.width];
  // the model's input png / 255, NHWC: back to the bytes the PNG must decode to
  const image = Uint8Array.from(get(io, 'input'), (v) => Math.round(v * 255));
  await check(
    `WRN-38 DeepLabV3+ K=${info.numClasses}`,
    join(dir, 'model.pt'),
    'deeplabv3plus-wrn38',
    info.numClasses,
    [
      {
        name: `${h}×${w}`,
        png: join(dir, 'input.png'),
        image,
        width: w,
        height: h,
        refs: {
          logits: get(io, 'logits'),
          'posterior-logit': get(io, 'posteriorLogits'),
          hybrid: get(io, 'hybrid'),
        },
      },
    ],
  );
}
const e = (v) => v.toExponential(2);
console.log('\n| model | input | logits | OOD logit | hybrid |\n|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.model} | ${r.size} | ${e(r.logits)} | ${e(r['posterior-logit'])} | ${e(r.hybrid)} |`,
  );
console.log(`(max |Δ| / max |ref| of infer --raw's float32 files vs PyTorch float64; bound 1e-4)`);
console.log(failures === 0 ? 'OK: all checks pass' : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
