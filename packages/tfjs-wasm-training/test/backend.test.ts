import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { initBackend, describeBackend } from '@densehybrid/tfjs-wasm-training';

const saved = process.env['DENSEHYBRID_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['DENSEHYBRID_BACKEND'];
  else process.env['DENSEHYBRID_BACKEND'] = saved;
});

describe('initBackend', () => {
  it('automatically picks wasm here, after skipping what is not installed, and says why', async () => {
    delete process.env['DENSEHYBRID_BACKEND'];
    const lines: string[] = [];
    const details: string[] = [];
    const report = await initBackend({ log: (l) => lines.push(l), debug: (l) => details.push(l) });
    expect(report.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(report.reason).toBe('automatic');
    expect(report.simd).toBe(true);
    expect(['present', 'loaded']).toContain(report.stockGradients);
    expect(tf.getGradient('Sum')).toBeDefined();
    expect(report.skipped.map((s) => s.name)).toEqual(['tensorflow', 'webgpu']);
    expect(report.skipped[0]?.why).toBe(
      '@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: not installed',
    );
    // `log` gets the decision only; how webgpu was probed (what Dawn and the drivers said,
    // e.g. with Mesa's Vulkan drivers installed) goes to `debug`.
    expect(lines).toEqual([describeBackend(report)]);
    for (const line of details) expect(line).toMatch(/^webgpu: /);
  });

  it('probes quietly and cheaply: automatic selection prints nothing on stderr and keeps < 20 MB more than forced wasm', async () => {
    // The median of 3 processes each (a process' RSS varies by ±8 MB from run to run). Before the
    // probe ran in a child process: +68 MB and 6 lines on stderr here (Mesa's Vulkan drivers).
    const rss = async (backend: string): Promise<number> => {
      const values: number[] = [];
      for (let i = 0; i < 3; i++) {
        const run = await runNode(backend, PROBE_RSS);
        expect(run.stderr).toBe('');
        const report = JSON.parse(run.stdout) as { name: string; rss: number };
        expect(report.name).toBe('wasm');
        values.push(report.rss);
      }
      return values.sort((x, y) => x - y)[1] as number;
    };
    const auto = await rss('');
    const wasm = await rss('wasm');
    expect((auto - wasm) / 2 ** 20).toBeLessThan(20);
  }, 60_000);

  it('honours DENSEHYBRID_BACKEND=cpu and warns that training is slow', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cpu';
    const report = await initBackend();
    expect(report.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(report.reason).toBe('forced by DENSEHYBRID_BACKEND');
    expect(report.warnings.join(' ')).toMatch(/very slow/);
  });

  it('options.backend wins over the environment variable', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cpu';
    const report = await initBackend({ backend: 'wasm' });
    expect(report.name).toBe('wasm');
    expect(report.reason).toBe('forced by options.backend');
  });

  it('fails clearly when a forced backend is not installed, without falling back', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'tensorflow';
    const before = tf.getBackend();
    const err = await initBackend().catch((e: unknown) => e);
    expect(DenseHybridError.is(err)).toBe(true);
    expect((err as DenseHybridError).code).toBe('BACKEND');
    expect((err as Error).message).toMatch(
      /^initBackend: expected backend "tensorflow".*tfjs-node/,
    );
    expect(tf.getBackend()).toBe(before);
  });

  it('rejects an unknown backend name and lists the allowed ones', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cuda';
    const err = await initBackend().catch((e: unknown) => e);
    expect((err as DenseHybridError).code).toBe('INVALID_OPTION');
    expect((err as Error).message).toContain('tensorflow | webgpu | wasm | cpu');
    expect((err as Error).message).toContain('"cuda"');
  });
});

/** A process that starts a backend and reports it with its resident memory. */
const PROBE_RSS = `
  import { initBackend } from '@densehybrid/tfjs-wasm-training';
  const report = await initBackend();
  console.log(JSON.stringify({ name: report.name, rss: process.memoryUsage().rss }));
`;

/** Runs an ES module script with DENSEHYBRID_BACKEND set to `backend` ('' = automatic). */
function runNode(backend: string, script: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, DENSEHYBRID_BACKEND: backend },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout, stderr }));
  });
}
