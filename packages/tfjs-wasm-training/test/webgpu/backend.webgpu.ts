/**
 * The webgpu route of initBackend / loadWebGpu on this machine's adapter: software adapters
 * refused unless forced, the forced path says so, synchronous reads fail clearly, and a process
 * that used Dawn exits on its own.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  describeBackend,
  initBackend,
  isSoftwareAdapter,
  loadWebGpu,
} from '@densehybrid/tfjs-wasm-training';
// (releaseWebGpu is exercised in child processes below: this process keeps its adapter.)

const saved = process.env['DENSEHYBRID_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['DENSEHYBRID_BACKEND'];
  else process.env['DENSEHYBRID_BACKEND'] = saved;
});

describe('webgpu backend selection', () => {
  // Runs first, before anything in this process holds an adapter.
  it('without permission takes only a hardware adapter, and names the software ones it refuses', async () => {
    const lines: string[] = [];
    const result = await loadWebGpu({
      allowSoftwareAdapter: false,
      dawnBackends: ['default', 'opengles'],
      log: (l) => lines.push(l),
    }).catch((e: unknown) => e);
    if (result instanceof Error) {
      // No hardware GPU (CI): the message lists every Dawn backend tried and what it offered.
      expect(result.message).toMatch(/^no hardware WebGPU adapter \(default: .*; opengles: /);
      expect(result.message).toContain('DENSEHYBRID_BACKEND=webgpu allows a software adapter');
      const refused = /software adapter (.+) refused/.exec(result.message);
      if (refused) expect(isSoftwareAdapter({ device: refused[1] as string })).toBe(true);
      expect(lines.join('\n')).toMatch(/webgpu: (refusing software adapter|Dawn backend)/);
      expect(tf.getBackend()).not.toBe('webgpu');
    } else {
      expect(result).toHaveProperty('adapter.software', false);
      expect(tf.getBackend()).toBe('webgpu');
    }
  });

  it('DENSEHYBRID_BACKEND=webgpu takes any adapter and says so when it is software', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'webgpu';
    const lines: string[] = [];
    const report = await initBackend({ log: (l) => lines.push(l) });
    expect(report.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(report.reason).toBe('forced by DENSEHYBRID_BACKEND');
    expect(report.module).toBe('@tensorflow/tfjs-backend-webgpu');
    const adapter = report.adapter;
    expect(adapter?.name.length).toBeGreaterThan(0);
    expect(adapter?.featureLevel).toMatch(/^(core|compatibility)$/);
    expect(lines).toContain(describeBackend(report));
    expect(describeBackend(report)).toContain(`adapter ${adapter?.name}`);
    if (adapter?.software) {
      expect(report.warnings.join('\n')).toMatch(/software adapter .*slower than wasm/);
      expect(lines.some((l) => l.startsWith('warning: webgpu: software adapter'))).toBe(true);
    } else {
      expect(report.warnings).toEqual([]);
    }
    // It computes: a conv read back asynchronously equals the wasm result.
    const x = Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i));
    const conv = async (): Promise<Float32Array> => {
      const y = tf.tidy(() =>
        tf.conv2d(tf.tensor4d(x, [2, 6, 6, 3]), tf.tensor4d(w, [3, 3, 3, 4]), 1, 'same'),
      );
      const v = Float32Array.from(await y.data());
      y.dispose();
      return v;
    };
    const gpu = await conv();
    await tf.setBackend('wasm');
    const wasm = await conv();
    for (let i = 0; i < wasm.length; i++) expect(gpu[i]).toBeCloseTo(wasm[i] as number, 4);
  });

  it('a later automatic selection does not pick a software adapter, and says why', async () => {
    delete process.env['DENSEHYBRID_BACKEND'];
    const forced = await initBackend({ backend: 'webgpu' });
    const report = await initBackend();
    if (forced.adapter?.software) {
      expect(report.name).toBe('wasm');
      const skipped = report.skipped.find((s) => s.name === 'webgpu');
      expect(skipped?.why).toMatch(
        /only a software adapter is available .*DENSEHYBRID_BACKEND=webgpu/,
      );
    } else {
      expect(report.name).toBe('webgpu');
    }
  });

  it('a synchronous read of a GPU tensor fails with a clear BACKEND error; after an async read it works', async () => {
    await initBackend({ backend: 'webgpu' });
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => tf.matMul(tf.ones([3, 4]), tf.fill([4, 2], 0.5)));
    let error: unknown;
    try {
      y.dataSync();
    } catch (e) {
      error = e;
    }
    if (typeof (globalThis as Record<string, unknown>)['OffscreenCanvas'] !== 'function') {
      expect(DenseHybridError.is(error)).toBe(true);
      expect((error as DenseHybridError).code).toBe('BACKEND');
      expect((error as Error).message).toMatch(
        /^dataSync\/arraySync: expected an asynchronous read/,
      );
      expect(() => y.arraySync()).toThrow(/await tensor\.data\(\)/);
    }
    expect(Array.from(await y.data())).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Array.from(y.dataSync())).toEqual([2, 2, 2, 2, 2, 2]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an unknown DENSEHYBRID_WEBGPU_BACKEND is an INVALID_OPTION naming the allowed values', () => {
    // In a fresh process: this one already holds an adapter, which later calls reuse.
    const out = runNode(
      `import { loadWebGpu } from '@densehybrid/tfjs-wasm-training';
       try { await loadWebGpu({ allowSoftwareAdapter: true }); console.log('loaded'); }
       catch (e) { console.log(e.code + ': ' + e.message); }`,
      { DENSEHYBRID_WEBGPU_BACKEND: 'cuda' },
    );
    expect(out.stdout).toContain('INVALID_OPTION: loadWebGpu: expected DENSEHYBRID_WEBGPU_BACKEND');
    expect(out.stdout).toContain('default | vulkan | metal');
    expect(out.stdout).toContain('"cuda"');
  });

  it('passes dawnOptions to Dawn (an adapter filter that matches nothing leaves no adapter)', () => {
    const out = runNode(
      `import { loadWebGpu } from '@densehybrid/tfjs-wasm-training';
       try {
         await loadWebGpu({ allowSoftwareAdapter: true, dawnBackends: ['opengles'], dawnOptions: ['adapter=no-such-adapter'] });
         console.log('loaded');
       } catch (e) { console.log('ERROR ' + e.message); }`,
    );
    expect(out.stdout).toMatch(/^ERROR no WebGPU adapter \(opengles: .*no-such-adapter/m);
  });
});

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

function runNode(
  script: string,
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string; ms: number } {
  const start = Date.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return {
    status: child.status,
    stdout: child.stdout,
    stderr: child.stderr,
    ms: Date.now() - start,
  };
}

describe('process lifetime', () => {
  it('a process that trains a step on webgpu exits on its own once its work is done', () => {
    const out = runNode(
      `import * as tf from '@tensorflow/tfjs-core';
       import '@tensorflow/tfjs-layers'; // registers tfjs' gradients in plain Node
       import { initBackend } from '@densehybrid/tfjs-wasm-training';
       const report = await initBackend({ backend: 'webgpu' });
       const w = tf.variable(tf.ones([3, 3, 2, 4]));
       const x = tf.ones([1, 6, 6, 2]);
       const opt = tf.train.sgd(0.01);
       opt.minimize(() => tf.sum(tf.square(tf.conv2d(x, w, 1, 'same'))));
       console.log('RESULT', report.name, (await w.data())[0]);
       setTimeout(() => console.log('TIMER'), 50);`,
    );
    // w[0,0,0,0] after one SGD step: the conv of ones by ones ('same') is 2·n(i)·n(j), n = 2 at
    // the border and 3 inside; ∂/∂w[0,0,0,0] Σy² = Σ_{i,j≥1} 2·y = 2·2·14·14 = 784, so
    // w = 1 − 0.01·784 = −6.84.
    const value = /RESULT webgpu (\S+)/.exec(out.stdout);
    expect(value, out.stderr).not.toBeNull();
    expect(Number(value?.[1])).toBeCloseTo(-6.84, 4);
    expect(out.stdout).toContain('TIMER');
    expect(out.status).toBe(0);
    expect(out.ms).toBeLessThan(15_000);
  });

  it('releaseWebGpu frees the backend and Dawn; webgpu loads again afterwards', () => {
    const out = runNode(
      `import * as tf from '@tensorflow/tfjs-core';
       import { initBackend, releaseWebGpu } from '@densehybrid/tfjs-wasm-training';
       const sum = async () => {
         const t = tf.tidy(() => tf.sum(tf.matMul(tf.ones([4, 3]), tf.ones([3, 5]))));
         const v = (await t.data())[0];
         t.dispose();
         return v;
       };
       await initBackend({ backend: 'webgpu' });
       const first = await sum();
       const released = releaseWebGpu();
       const state = [released, tf.findBackend('webgpu') === null, globalThis.navigator?.gpu === undefined, releaseWebGpu()];
       const again = await initBackend({ backend: 'webgpu' });
       console.log('RESULT', first, state.join(','), again.name, await sum());`,
    );
    expect(out.stdout, out.stderr).toContain('RESULT 60 true,true,true,false webgpu 60');
    expect(out.status).toBe(0);
  });

  it('a process that probed Dawn, refused its adapters and fell back to wasm exits on its own too', () => {
    const out = runNode(
      `import * as tf from '@tensorflow/tfjs-core';
       import { initBackend, loadWebGpu } from '@densehybrid/tfjs-wasm-training';
       const probe = await loadWebGpu({ allowSoftwareAdapter: false, dawnBackends: ['default', 'opengles'] })
         .then((r) => 'hardware', (e) => e.message.split(' (')[0]);
       const report = probe === 'hardware' ? await initBackend() : await initBackend({ backend: 'wasm' });
       const y = tf.add(tf.ones([2]), tf.ones([2]));
       console.log('RESULT', probe, '|', report.name, Array.from(await y.data()).join(','));`,
      { DENSEHYBRID_BACKEND: '' },
    );
    expect(out.stdout, out.stderr).toMatch(
      /RESULT (hardware \| webgpu|no hardware WebGPU adapter \| wasm) 2,2/,
    );
    expect(out.status).toBe(0);
    expect(out.ms).toBeLessThan(15_000);
  });
});
