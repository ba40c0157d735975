import * as tf from '@tensorflow/tfjs-core';
import { setWasmThreads } from './kernels/simd/threads.js';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { registerTrainingKernels } from './kernels/register.js';
import type * as TfjsBackendWasm from '@tensorflow/tfjs-backend-wasm';
import type { WebGpuAdapterReport } from './backend-webgpu.js';

/** The TensorFlow.js backends {@link initBackend} knows, in its order of preference. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** All backend names, in the order {@link initBackend} tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Use exactly this backend and fail with `BACKEND` if it cannot load.
   * @default process.env.DENSEHYBRID_BACKEND, else automatic selection
   */
  readonly backend?: BackendName;
  /**
   * Threads for the wasm backend. tfjs 4.x has no wasm threads in Node, so there this sets the
   * thread pool of this package's SIMD convolutions ({@link setWasmThreads}: conv forward, input
   * and filter gradients, bit-identical results at any count); tfjs' other kernels stay on one
   * thread.
   * @default process.env.DENSEHYBRID_WASM_THREADS, else 1
   */
  readonly threads?: number;
  /**
   * Set tfjs up for training: `registerTrainingKernels()` (this package's wasm kernels, incl. the
   * conv/depthwise backprops tfjs' wasm backend lacks, and the dilation-aware and exact
   * gradients on every backend).
   * @default true
   */
  readonly registerKernels?: boolean;
  /** Receives one line per decision (which backend, why, warnings). @default no logging */
  readonly log?: (line: string) => void;
  /**
   * Receives the details of probing (a CLI's `--verbose`): each WebGPU adapter tried, and what
   * Dawn, the Vulkan loader and the drivers printed while probing — which never reaches stderr,
   * because the adapters are probed in a child process.
   * @default no logging
   */
  readonly debug?: (line: string) => void;
}

/** Default options of {@link initBackend}. */
export const DEFAULT_INIT_BACKEND_OPTIONS = {
  threads: 1,
  registerKernels: true,
} as const satisfies Partial<InitBackendOptions>;

/** What {@link initBackend} chose and why. */
export interface BackendReport {
  /** The active backend. */
  readonly name: BackendName;
  /** Why this one: `forced by DENSEHYBRID_BACKEND`, `forced by options.backend`, `automatic`. */
  readonly reason: string;
  /** The module that provides it, e.g. `@tensorflow/tfjs-backend-wasm`. */
  readonly module: string;
  /** Backends tried before this one, with why each was skipped. */
  readonly skipped: readonly { readonly name: BackendName; readonly why: string }[];
  /** Warnings a user should see (for example: cpu is very slow for training). */
  readonly warnings: readonly string[];
  /**
   * tfjs' stock gradients: `present` (already registered), `loaded` (registered now from
   * `@tensorflow/tfjs-layers`), `missing` (training will fail; a warning says so). Absent when
   * `registerKernels` is false.
   */
  readonly stockGradients?: 'present' | 'loaded' | 'missing';
  /** wasm: whether SIMD is on. */
  readonly simd?: boolean;
  /** wasm: threads in use. */
  readonly threads?: number;
  /** webgpu: the adapter's name, whether it is a software (CPU) adapter, its Dawn backend. */
  readonly adapter?: WebGpuAdapterReport;
}

/** A loader for one backend: resolves to the report fields, or throws why it cannot load. */
export type BackendLoader = (
  options: InitBackendOptions,
  forced: boolean,
) => Promise<{
  readonly module: string;
  readonly warnings?: readonly string[];
  readonly simd?: boolean;
  readonly threads?: number;
  readonly adapter?: WebGpuAdapterReport;
  /** wasm: the loaded `@tensorflow/tfjs-backend-wasm`'s `version_wasm`. */
  readonly wasmVersion?: string;
}>;

async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

const loaders: Record<BackendName, BackendLoader> = {
  async tensorflow() {
    const errors: string[] = [];
    for (const mod of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await importOptional(mod);
        if (await tf.setBackend('tensorflow')) return { module: mod };
        errors.push(`${mod}: setBackend('tensorflow') returned false`);
      } catch (e) {
        errors.push(`${mod}: ${notInstalled(e, mod) ? 'not installed' : firstLine(e)}`);
      }
    }
    throw new Error(errors.join('; '));
  },
  async webgpu(options, forced) {
    const { loadWebGpu } = await import('./backend-webgpu.js');
    return loadWebGpu({
      allowSoftwareAdapter: forced,
      ...(options.debug ? { log: options.debug } : {}),
    });
  },
  async wasm(options) {
    const mod = '@tensorflow/tfjs-backend-wasm';
    const wasm = (await importOptional(mod)) as typeof TfjsBackendWasm;
    const requested = options.threads ?? DEFAULT_INIT_BACKEND_OPTIONS.threads;
    if (requested > 1) wasm.setThreadsCount(requested);
    if (!(await tf.setBackend('wasm'))) throw new Error(`setBackend('wasm') returned false`);
    await tf.ready();
    let threads = wasm.getThreadsCount();
    const warnings: string[] = [];
    if (requested > threads) {
      // tfjs has no wasm threads in Node: give them to this package's SIMD convolutions.
      threads = setWasmThreads(requested);
      if (requested > threads)
        warnings.push(
          `wasm: ${requested} threads requested, ${threads} available (no worker_threads or shared WebAssembly memory here)`,
        );
    } else setWasmThreads(1);
    return {
      module: mod,
      simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean,
      threads,
      warnings,
      wasmVersion: wasm.version_wasm,
    };
  },
  async cpu() {
    const mod = '@tensorflow/tfjs-backend-cpu';
    await importOptional(mod);
    if (!(await tf.setBackend('cpu'))) throw new Error(`setBackend('cpu') returned false`);
    // tfjs' cpu backend prints a multi-line "install tfjs-node" banner on first use; the report's
    // warning below says the same in one line.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return {
      module: mod,
      warnings: [
        'cpu backend: pure JavaScript, training will be very slow; install @tensorflow/tfjs-backend-wasm',
      ],
    };
  },
};

/**
 * Whether `e` says that `mod` itself (not one of its dependencies) cannot be resolved: Node's
 * `Cannot find package 'mod'` (ERR_MODULE_NOT_FOUND) or a bundler's `Could not resolve "mod"`.
 */
function notInstalled(e: unknown, mod: string): boolean {
  const line = firstLine(e);
  return (
    /Cannot find (package|module)|Could not resolve/.test(line) &&
    (line.includes(`'${mod}'`) || line.includes(`"${mod}"`))
  );
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

function parseBackend(value: string, source: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new DenseHybridError(
    'INVALID_OPTION',
    `initBackend: expected ${source} to be one of ${BACKEND_NAMES.join(' | ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * Picks and initialises the TensorFlow.js backend, sets it up for training
 * (`registerTrainingKernels()`), and reports which backend is active and why.
 *
 * Automatic order: `tensorflow` (tfjs-node-gpu, then tfjs-node, when installed and loadable),
 * `webgpu` (a hardware adapter only), `wasm` (the portable default, SIMD), `cpu` (last resort,
 * with a warning). `DENSEHYBRID_BACKEND=tensorflow|webgpu|wasm|cpu` or `options.backend` forces
 * one; a forced backend that cannot load throws instead of falling back. Probing is quiet and
 * cheap: WebGPU adapters are looked for in a short-lived child process (see `loadWebGpu`), so a
 * machine without a hardware adapter gets no driver output on stderr and does not keep Dawn
 * loaded; `options.debug` receives those details.
 *
 * @param options see {@link InitBackendOptions}
 * @returns a {@link BackendReport}
 * @throws DenseHybridError `BACKEND` when the forced backend (or every backend) fails to load,
 *   `INVALID_OPTION` for an unknown backend name
 * @example
 * ```ts
 * import { initBackend } from '@densehybrid/tfjs-wasm-training';
 * const report = await initBackend({ log: console.log }); // one line; add `debug` for details
 * console.log(report.name); // 'wasm' on a machine without tfjs-node or a GPU
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const log = options.log ?? (() => {});
  const envThreads =
    typeof process !== 'undefined' ? process.env['DENSEHYBRID_WASM_THREADS'] : undefined;
  if (options.threads === undefined && envThreads !== undefined && envThreads !== '')
    options = { ...options, threads: parseThreads(envThreads) };
  else if (
    options.threads !== undefined &&
    (!Number.isInteger(options.threads) || options.threads < 1)
  )
    throw new DenseHybridError(
      'INVALID_OPTION',
      `initBackend: expected options.threads to be an integer >= 1, got ${String(options.threads)}`,
    );
  const envValue = typeof process !== 'undefined' ? process.env['DENSEHYBRID_BACKEND'] : undefined;
  let forced: BackendName | undefined;
  let reason = 'automatic';
  if (options.backend !== undefined) {
    forced = parseBackend(options.backend, 'options.backend');
    reason = 'forced by options.backend';
  } else if (envValue !== undefined && envValue !== '') {
    forced = parseBackend(envValue, 'DENSEHYBRID_BACKEND');
    reason = 'forced by DENSEHYBRID_BACKEND';
  }
  const candidates = forced ? [forced] : BACKEND_NAMES;
  const skipped: { name: BackendName; why: string }[] = [];
  for (const name of candidates) {
    try {
      const loaded = await loaders[name](options, forced !== undefined);
      const warnings = [...(loaded.warnings ?? [])];
      let stockGradients: BackendReport['stockGradients'];
      if (options.registerKernels ?? DEFAULT_INIT_BACKEND_OPTIONS.registerKernels) {
        stockGradients = registerTrainingKernels({
          ...(loaded.wasmVersion !== undefined ? { wasmVersion: loaded.wasmVersion } : {}),
          // with a log, an unsupported tfjs-backend-wasm is one of the report's warnings
          ...(options.log ? { warn: (line: string) => warnings.push(line) } : {}),
        }).stockGradients;
        if (stockGradients === 'missing') {
          warnings.push(
            "tfjs' gradients are not registered (Node's @tensorflow/tfjs-core has none): install @tensorflow/tfjs-layers to train",
          );
        }
      }
      const report: BackendReport = {
        name,
        reason,
        module: loaded.module,
        skipped,
        warnings,
        ...(stockGradients !== undefined ? { stockGradients } : {}),
        ...(loaded.simd !== undefined ? { simd: loaded.simd } : {}),
        ...(loaded.threads !== undefined ? { threads: loaded.threads } : {}),
        ...(loaded.adapter !== undefined ? { adapter: loaded.adapter } : {}),
      };
      log(describeBackend(report));
      for (const w of report.warnings) log(`warning: ${w}`);
      return report;
    } catch (e) {
      const why = firstLine(e);
      if (forced) {
        throw new DenseHybridError(
          'BACKEND',
          `initBackend: expected backend "${name}" (${reason}) to load, got: ${why}`,
          { cause: e },
        );
      }
      skipped.push({ name, why });
    }
  }
  throw new DenseHybridError(
    'BACKEND',
    `initBackend: expected one of ${BACKEND_NAMES.join(', ')} to load, got none: ${skipped
      .map((s) => `${s.name} (${s.why})`)
      .join('; ')}`,
  );
}

/** `DENSEHYBRID_WASM_THREADS`: a positive integer. */
function parseThreads(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new DenseHybridError(
      'INVALID_OPTION',
      `initBackend: expected DENSEHYBRID_WASM_THREADS to be an integer >= 1, got ${JSON.stringify(value)}`,
    );
  return n;
}

/** One line for humans: `backend wasm (automatic; SIMD on, 1 thread) — skipped: tensorflow (…)`. */
export function describeBackend(report: BackendReport): string {
  const details: string[] = [report.reason];
  if (report.simd !== undefined) details.push(`SIMD ${report.simd ? 'on' : 'off'}`);
  if (report.threads !== undefined)
    details.push(`${report.threads} thread${report.threads === 1 ? '' : 's'}`);
  if (report.adapter)
    details.push(`adapter ${report.adapter.name}${report.adapter.software ? ' (software)' : ''}`);
  const skipped = report.skipped.length
    ? ` — skipped: ${report.skipped.map((s) => `${s.name} (${s.why})`).join('; ')}`
    : '';
  return `backend ${report.name} via ${report.module} (${details.join('; ')})${skipped}`;
}
