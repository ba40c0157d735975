// Dev-only cross-check of decodeNpy against NumPy (not run in CI). Needs the built package and
// python3 with numpy; run: node packages/metrics-openiou/scripts/npy-crosscheck.mjs
// NumPy writes every numeric dtype in both byte orders, C and Fortran order, format 1.0 and 2.0,
// with the values as float64 and as float32 (`astype`) beside; decodeNpy must read them the same.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../dist/index.js';

const PY = `
import sys, json, numpy as np
np.seterr(over='ignore')
d = sys.argv[1]; rng = np.random.default_rng(7); cases = []
def put(name, a, version):
    with open(f"{d}/{name}.npy", "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    np.ascontiguousarray(a).astype("<f8").tofile(f"{d}/{name}.f8")
    np.ascontiguousarray(a).astype("<f4").tofile(f"{d}/{name}.f4")
    cases.append(name)
half = np.arange(65536, dtype=np.uint16).view(np.float16).reshape(256, 256)
for order in "<>":
    for t in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]:
        dt = np.dtype(order + t)
        if t == "f2":
            a = half.astype(dt)
        elif t[0] == "f":
            a = np.concatenate([rng.standard_normal(52) * 10.0 ** rng.integers(-40, 40, 52),
                                [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-45, 3.5e38]]).astype(dt)
        elif t == "b1":
            a = rng.integers(0, 2, 60).astype(dt)
        else:
            nat = dt.newbyteorder("="); info = np.iinfo(nat)
            a = np.concatenate([np.array([info.min, info.max, 0, 1], dtype=nat),
                rng.integers(info.min, info.max, 56, dtype=nat, endpoint=True)]).astype(dt)
        a = a.reshape(-1, 2) if a.ndim == 1 else a
        for fortran in [False, True]:
            b = np.asfortranarray(a.reshape(2, -1, a.shape[-1]).transpose(1, 2, 0)) if fortran else a
            put(f"{order == '<' and 'le' or 'be'}-{t}-{'F' if fortran else 'C'}", b, (1, 0) if fortran else (2, 0))
print(json.dumps(cases))
`;

const dir = mkdtempSync(join(tmpdir(), 'dh-npy-'));
try {
  const env = { ...process.env, PATH: execFileSync('getconf', ['PATH']).toString().trim() };
  const cases = JSON.parse(
    execFileSync('python3', ['-c', PY, dir], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    }).toString(),
  );
  const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  let bad = 0;
  for (const name of cases) {
    const bytes = readFileSync(join(dir, `${name}.npy`));
    const f8 = new Float64Array(new Uint8Array(readFileSync(join(dir, `${name}.f8`))).buffer);
    const f4 = new Float32Array(new Uint8Array(readFileSync(join(dir, `${name}.f4`))).buffer);
    const exact = decodeNpy(bytes, { output: 'float64' });
    const single = decodeNpy(bytes);
    // 64-bit integers: NumPy's int64 → float32 rounds once, decodeNpy via float64 (twice)
    const f4ok = same([...single.data], [...f4]) || /i8|u8/.test(name);
    if (/i8|u8/.test(name) && !same([...single.data], [...f4]))
      console.log('  (float32 of a 64-bit integer differs from NumPy astype by double rounding)');
    const ok = same([...exact.data], [...f8]) && f4ok && exact.fortranOrder === name.endsWith('-F');
    if (!ok) bad++;
    console.log(`${ok ? 'ok ' : 'BAD'} ${name} ${exact.dtype} (${exact.shape.join(', ')})`);
  }
  console.log(`${cases.length - bad}/${cases.length} files read as NumPy reads them`);
  process.exitCode = bad === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
