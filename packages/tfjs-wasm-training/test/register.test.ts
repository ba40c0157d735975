// Explicit registration: the main entry has no side effects and does not need
// @tensorflow/tfjs-backend-wasm; the wasm kernels are registered only for the tfjs-backend-wasm
// versions whose internals they read, with one warning otherwise.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  registerTrainingKernels,
  registerWasmTrainingKernels,
  supportedWasmVersion,
  SUPPORTED_WASM_VERSIONS,
  TRAINING_GRADIENTS,
  WASM_TRAINING_KERNELS,
} from '@densehybrid/tfjs-wasm-training';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'dh-register-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('supportedWasmVersion', () => {
  it('accepts exactly the versions whose internals the kernels read', () => {
    expect(SUPPORTED_WASM_VERSIONS).toEqual(['4.22.0']);
    expect(supportedWasmVersion('4.22.0')).toBe(true);
    expect(version_wasm).toBe('4.22.0'); // the installed peer is the pinned one
    for (const v of ['4.23.0-rc.0', '4.22.1', '4.21.0', '5.0.0', '', undefined])
      expect(supportedWasmVersion(v)).toBe(false);
  });
});

describe('registerWasmTrainingKernels', () => {
  it('registers no kernel for an unknown version, warns once, and registers them for 4.22.0', () => {
    const stockConv = tf.getKernel('Conv2D', 'wasm')?.kernelFunc;
    expect(stockConv).toBeDefined();
    const lines: string[] = [];
    const warn = (line: string) => lines.push(line);

    const first = registerWasmTrainingKernels({ wasmVersion: '4.23.0-rc.0', warn });
    expect(first).toEqual({
      kernels: [],
      wasmVersion: '4.23.0-rc.0',
      skipped: 'unsupported-version',
    });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2D', 'wasm')?.kernelFunc).toBe(stockConv); // stock kernels stay
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^registerWasmTrainingKernels: expected @tensorflow\/tfjs-backend-wasm 4\.22\.0 .*got @tensorflow\/tfjs-backend-wasm 4\.23\.0-rc\.0; registered none/,
    );

    // Again, through registerTrainingKernels: still no kernel, no second warning, gradients on.
    const both = registerTrainingKernels({ wasmVersion: '4.23.0-rc.0', warn });
    expect(both.kernels).toEqual([]);
    expect(both.gradients).toEqual(TRAINING_GRADIENTS.map((g) => g.kernelName));
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(lines).toHaveLength(1);

    // The installed (supported) version: every kernel, in WASM_TRAINING_KERNELS' order.
    const ok = registerWasmTrainingKernels({ warn });
    expect(ok).toEqual({
      kernels: WASM_TRAINING_KERNELS.map((k) => k.kernelName),
      wasmVersion: '4.22.0',
    });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2D', 'wasm')?.kernelFunc).not.toBe(stockConv);
    expect(registerWasmTrainingKernels().kernels).toEqual([]); // idempotent
    expect(lines).toHaveLength(1);
  });
});

/** Runs `script` (ESM) in a fresh Node process in this package, with `hooks` loaded first. */
function runNode(script: string, hooks?: string): { status: number | null; out: string } {
  const args = ['--input-type=module', '-e', script];
  if (hooks) {
    const file = join(scratch, `hooks-${Date.now()}.mjs`);
    writeFileSync(file, hooks);
    const registerFile = join(scratch, `register-${Date.now()}.mjs`);
    writeFileSync(
      registerFile,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(file).href)});\n`,
    );
    args.unshift('--import', pathToFileURL(registerFile).href);
  }
  const r = spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the main entry', () => {
  it('has no side effects: importing it registers no kernel and no gradient', () => {
    const r = runNode(`
      import * as tf from '@tensorflow/tfjs-core';
      import '@tensorflow/tfjs-backend-wasm';
      const m = await import('@densehybrid/tfjs-wasm-training');
      console.log(Object.keys(m).length > 0, tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined,
        tf.getGradient('Conv2D') === undefined, tf.getGradient('ResizeBilinear') === undefined);`);
    expect(r.out.trim()).toBe('true true true true');
    expect(r.status).toBe(0);
  });

  it('loads without @tensorflow/tfjs-backend-wasm; registration then skips the kernels', () => {
    // A resolve hook makes @tensorflow/tfjs-backend-wasm uninstallable for ESM imports.
    const hooks = `export async function resolve(specifier, context, next) {
      if (specifier.startsWith('@tensorflow/tfjs-backend-wasm'))
        throw Object.assign(new Error("Cannot find package '@tensorflow/tfjs-backend-wasm'"), { code: 'ERR_MODULE_NOT_FOUND' });
      return next(specifier, context);
    }`;
    const r = runNode(
      `
      import '@tensorflow/tfjs-backend-cpu';
      import * as tf from '@tensorflow/tfjs-core';
      const missing = await import('@tensorflow/tfjs-backend-wasm').then(() => 'loaded', () => 'missing');
      const m = await import('@densehybrid/tfjs-wasm-training');
      await tf.setBackend('cpu');
      const r = m.registerWasmTrainingKernels();
      console.log(missing, r.skipped, r.kernels.length, m.registerTrainingGradients().gradients.length);`,
      hooks,
    );
    expect(r.out.trim()).toBe(`missing no-wasm-backend 0 ${TRAINING_GRADIENTS.length}`);
    expect(r.status).toBe(0);
  });
});
