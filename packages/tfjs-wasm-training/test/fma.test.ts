// The fused multiply-add variant of the SIMD convolution kernels runs only where the engine has
// relaxed SIMD (Node ≥ 22, or Node 20 with --experimental-wasm-relaxed-simd): checked in a child
// process started with the flag, against the cpu backend.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/fma-conv-check.mjs', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

describe('SIMD convolutions with fused multiply-add (relaxed SIMD)', () => {
  it('are used when relaxed SIMD is on and match the cpu backend', () => {
    const flags = major < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
    const out = execFileSync(process.execPath, [...flags, script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as {
      fused: boolean;
      worst: number;
    };
    expect(result.fused).toBe(true);
    expect(result.worst).toBeLessThanOrEqual(1e-5);
  }, 60_000);

  it.runIf(major < 22)(
    'are not used on Node 20 without the flag',
    () => {
      const out = execFileSync(process.execPath, [script], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      });
      expect(JSON.parse(out.trim().split('\n').at(-1) as string).fused).toBe(false);
    },
    60_000,
  );
});
