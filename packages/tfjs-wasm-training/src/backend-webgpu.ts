import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

/**
 * A Dawn backend name, as the `webgpu` package's `backend=` option spells it, or `default`
 * (Dawn's own choice: Vulkan on Linux, Metal on macOS, D3D12 on Windows).
 */
export type DawnBackendName =
  'default' | 'vulkan' | 'metal' | 'd3d12' | 'd3d11' | 'opengl' | 'opengles' | 'null';

/** All {@link DawnBackendName}s. */
export const DAWN_BACKEND_NAMES: readonly DawnBackendName[] = [
  'default',
  'vulkan',
  'metal',
  'd3d12',
  'd3d11',
  'opengl',
  'opengles',
  'null',
];

/** Options of {@link loadWebGpu}. */
export interface LoadWebGpuOptions {
  /**
   * Accept a software (CPU) adapter such as Mesa llvmpipe, lavapipe or SwiftShader. They compute
   * correct results 10–100× slower than the wasm backend: for tests, not for training.
   * `initBackend` sets this when webgpu is forced (`DENSEHYBRID_BACKEND=webgpu`).
   * @default false
   */
  readonly allowSoftwareAdapter?: boolean;
  /**
   * Dawn backends to try, in order; the first that yields an acceptable adapter wins.
   * @default process.env.DENSEHYBRID_WEBGPU_BACKEND (one name) if set, else `['default']`,
   *   plus `'opengles'` on Linux when software adapters are allowed (Mesa llvmpipe through EGL)
   */
  readonly dawnBackends?: readonly DawnBackendName[];
  /**
   * Extra options for Dawn's `create()`, e.g. `['enable-dawn-features=disable_robustness']`
   * (see the `webgpu` package's README for the list).
   * @default []
   */
  readonly dawnOptions?: readonly string[];
  /** Adapter power preference passed to `requestAdapter`. @default 'high-performance' */
  readonly powerPreference?: 'high-performance' | 'low-power';
  /**
   * Receives one line per decision (each adapter tried, why one was refused) and, when the
   * adapters are probed in a child process, what Dawn and the drivers printed there.
   */
  readonly log?: (line: string) => void;
}

/** Default options of {@link loadWebGpu}. */
export const DEFAULT_LOAD_WEBGPU_OPTIONS = {
  allowSoftwareAdapter: false,
  powerPreference: 'high-performance',
} as const satisfies LoadWebGpuOptions;

/** The adapter {@link loadWebGpu} chose. */
export interface WebGpuAdapterReport {
  /** Human-readable adapter name, e.g. `NVIDIA GeForce RTX 4090` or `llvmpipe … (OpenGL ES 3.2 Mesa 22.3.6)`. */
  readonly name: string;
  /** Whether it is a software (CPU) adapter: llvmpipe, lavapipe, SwiftShader, WARP, … */
  readonly software: boolean;
  /** The Dawn backend that provides it. */
  readonly dawnBackend: DawnBackendName;
  /** WebGPU feature level of the adapter: `core`, or `compatibility` (OpenGL ES backends). */
  readonly featureLevel: 'core' | 'compatibility';
}

/** What {@link loadWebGpu} set up. */
export interface LoadWebGpuResult {
  /** The tfjs backend module, `@tensorflow/tfjs-backend-webgpu`. */
  readonly module: string;
  /** The adapter in use. */
  readonly adapter: WebGpuAdapterReport;
  /** Things a user should know (software adapter, synchronous reads). */
  readonly warnings: readonly string[];
}

// Minimal structural views of the WebGPU objects this file touches (this package compiles
// without DOM or @webgpu/types; `webgpu` and the tfjs backend are optional peers loaded at run
// time).
interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface DeviceLike {
  destroy(): void;
}
interface AdapterLike {
  readonly info?: AdapterInfoLike;
  readonly features: { has(name: string): boolean };
  readonly limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<DeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: object): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface TfWebGpuBackendLike extends tf.KernelBackend {
  readSync(dataId: object): tf.BackendValues;
  tensorMap: { get(dataId: object): { values?: unknown; dtype: string } | undefined };
}
interface TfWebGpuModule {
  WebGPUBackend: new (device: DeviceLike, adapterInfo?: AdapterInfoLike) => TfWebGpuBackendLike;
}

/** Module state: one Dawn instance and adapter per process, reused by later `initBackend` calls. */
let active: { gpu: GpuLike; result: LoadWebGpuResult; device?: DeviceLike } | undefined;

const SOFTWARE_ADAPTER =
  /llvmpipe|lavapipe|softpipe|swiftshader|swift shader|microsoft basic render|\bwarp\b|software/i;

/**
 * Whether an adapter is a software (CPU) implementation, judged from its info strings
 * (vendor, architecture, device, description) and `isFallbackAdapter`.
 *
 * @param info the adapter's `GPUAdapterInfo` (or any object with those string fields)
 * @returns true for llvmpipe, lavapipe, softpipe, SwiftShader, Microsoft Basic Render (WARP),
 *   a fallback adapter, or a Vulkan CPU device
 * @example
 * ```ts
 * isSoftwareAdapter({ device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }); // true
 * isSoftwareAdapter({ vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3' }); // false
 * ```
 */
export function isSoftwareAdapter(info: AdapterInfoLike & { readonly type?: string }): boolean {
  if (info.isFallbackAdapter === true) return true;
  if (typeof info.type === 'string' && /cpu/i.test(info.type)) return true;
  const text = [info.vendor, info.architecture, info.device, info.description]
    .filter((s): s is string => typeof s === 'string')
    .join(' ');
  return SOFTWARE_ADAPTER.test(text);
}

/**
 * A readable adapter name from its info: the device (or vendor + architecture), then the driver
 * description in parentheses, e.g. `llvmpipe-llvm-15-0-6-256-bits (OpenGL ES 3.2 Mesa 22.3.6)`.
 *
 * @param info the adapter's `GPUAdapterInfo`
 * @returns a one-line name; `unknown adapter` when every field is empty
 * @example
 * ```ts
 * adapterName({ vendor: 'nvidia', device: 'NVIDIA H100' }); // 'NVIDIA H100'
 * ```
 */
export function adapterName(info: AdapterInfoLike): string {
  const clean = (s: string | undefined): string => (s ?? '').trim().replace(/-+$/, '');
  const device = clean(info.device);
  const main =
    device || [clean(info.vendor), clean(info.architecture)].filter(Boolean).join(' ') || '';
  const description = clean(info.description).replace(/^OpenGL version /, '');
  if (main && description && description !== main) return `${main} (${description})`;
  return main || description || 'unknown adapter';
}

function parseDawnBackend(value: string): DawnBackendName {
  if ((DAWN_BACKEND_NAMES as readonly string[]).includes(value)) return value as DawnBackendName;
  throw new DenseHybridError(
    'INVALID_OPTION',
    `loadWebGpu: expected DENSEHYBRID_WEBGPU_BACKEND to be one of ${DAWN_BACKEND_NAMES.join(' | ')}, got ${JSON.stringify(value)}`,
  );
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

/**
 * Whether the dynamic linker can find the Vulkan loader `libvulkan.so.1` (Linux): listed in
 * `/etc/ld.so.cache`, or present in `LD_LIBRARY_PATH` or a usual library folder.
 */
async function hasVulkanLoader(): Promise<boolean> {
  const lib = 'libvulkan.so.1';
  try {
    const fs = await import('node:fs');
    try {
      if (fs.readFileSync('/etc/ld.so.cache').includes(lib)) return true;
    } catch {
      // no cache (musl, containers): look in the folders below
    }
    const dirs = [
      ...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean),
      '/usr/lib/x86_64-linux-gnu',
      '/usr/lib/aarch64-linux-gnu',
      '/usr/lib64',
      '/usr/lib',
      '/lib/x86_64-linux-gnu',
      '/lib/aarch64-linux-gnu',
      '/lib64',
      '/lib',
      '/usr/local/lib',
      '/run/opengl-driver/lib',
    ];
    return dirs.some((d) => fs.existsSync(`${d}/${lib}`));
  } catch {
    return true; // cannot tell: let Dawn try
  }
}

/** Installs Dawn's `GPU*` globals and `navigator.gpu` (tfjs' WebGPU backend looks for both). */
function installGlobals(dawn: DawnModule, gpu: GpuLike): void {
  const g = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(dawn.globals)) {
    if (g[key] === undefined) g[key] = value;
  }
  const nav = g['navigator'];
  if (nav !== undefined && nav !== null && typeof nav === 'object') {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    g['navigator'] = { gpu };
  }
}

async function requestAdapter(
  gpu: GpuLike,
  powerPreference: string,
): Promise<{ adapter: AdapterLike; featureLevel: 'core' | 'compatibility' } | undefined> {
  const core = await gpu.requestAdapter({ powerPreference });
  if (core) return { adapter: core, featureLevel: 'core' };
  // Dawn's OpenGL ES backend only offers compatibility-mode adapters.
  const compat = await gpu.requestAdapter({ powerPreference, featureLevel: 'compatibility' });
  if (compat) return { adapter: compat, featureLevel: 'compatibility' };
  return undefined;
}

/** The device tfjs' own WebGPU factory would request: its optional features and raised limits. */
async function requestDevice(adapter: AdapterLike): Promise<DeviceLike> {
  const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) =>
    adapter.features.has(f),
  );
  const requiredLimits: Record<string, number> = {};
  for (const key of [
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
  ]) {
    const value = adapter.limits[key];
    if (typeof value === 'number') requiredLimits[key] = value;
  }
  return adapter.requestDevice({ requiredFeatures, requiredLimits });
}

/**
 * Makes synchronous reads of GPU-resident tensors fail with a clear message: tfjs' WebGPU backend
 * reads synchronously through `OffscreenCanvas`, which Node lacks, and would otherwise fail with
 * `OffscreenCanvas is not defined`. Values already on the CPU (uploaded, or read before with
 * `await data()`) still read synchronously.
 */
function guardSyncReads(backend: TfWebGpuBackendLike): void {
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const entry = backend.tensorMap.get(dataId);
    if (
      entry === undefined ||
      entry.values != null ||
      entry.dtype === 'string' ||
      entry.dtype === 'complex64' ||
      typeof (globalThis as Record<string, unknown>)['OffscreenCanvas'] === 'function'
    ) {
      return readSync(dataId);
    }
    throw new DenseHybridError(
      'BACKEND',
      'dataSync/arraySync: expected an asynchronous read (`await tensor.data()` / `await tensor.array()`) ' +
        'on the webgpu backend in Node, got a synchronous read of a tensor that lives on the GPU ' +
        '(tfjs reads those through OffscreenCanvas, which Node does not have)',
    );
  };
}

/** What the probe child reports per Dawn backend. */
type ProbeRecord =
  | {
      readonly backend: DawnBackendName;
      readonly featureLevel: 'core' | 'compatibility';
      readonly info: AdapterInfoLike & { readonly type?: string };
    }
  | { readonly backend: DawnBackendName; readonly none: true }
  | { readonly backend: DawnBackendName; readonly error: string };

/** The marker in front of the probe child's answer on stdout (drivers may print there too). */
const PROBE_MARK = '@@densehybrid-webgpu-probe@@';

/**
 * The probe child: loads Dawn, asks each Dawn backend for an adapter (core, then compatibility)
 * and prints what it found after {@link PROBE_MARK}; then exits without Dawn's teardown.
 */
const PROBE_SCRIPT = `
const [, request] = process.argv;
const { backends, dawnOptions, powerPreference } = JSON.parse(request);
let dawn;
try {
  dawn = await import('webgpu');
} catch (e) {
  process.stdout.write('\\n${PROBE_MARK}' + JSON.stringify({ importError: String(e?.message ?? e).split('\\n')[0] }) + '\\n', () => process.exit(0));
  await new Promise(() => {});
}
const records = [];
for (const backend of backends) {
  try {
    const gpu = dawn.create([...(backend === 'default' ? [] : ['backend=' + backend]), ...dawnOptions]);
    let featureLevel = 'core';
    let adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) {
      featureLevel = 'compatibility';
      adapter = await gpu.requestAdapter({ powerPreference, featureLevel });
    }
    if (!adapter) { records.push({ backend, none: true }); continue; }
    const i = adapter.info ?? {};
    const info = {};
    for (const k of ['vendor', 'architecture', 'device', 'description', 'type']) if (typeof i[k] === 'string') info[k] = i[k];
    if (typeof i.isFallbackAdapter === 'boolean') info.isFallbackAdapter = i.isFallbackAdapter;
    records.push({ backend, featureLevel, info });
  } catch (e) {
    records.push({ backend, error: String(e?.message ?? e).split('\\n')[0] });
  }
}
process.stdout.write('\\n${PROBE_MARK}' + JSON.stringify({ records }) + '\\n', () => process.exit(0));
`;

/** Longest wait for the probe child (a driver that hangs must not hang start-up). */
const PROBE_TIMEOUT_MS = 30_000;

/** Results of earlier probes in this process, by request (a probe costs a process start). */
const probes = new Map<string, Promise<ProbeRecord[]>>();

/**
 * Asks Dawn for adapters in a short-lived child process, so that what Dawn, the Vulkan loader
 * and the drivers print (`XDG_RUNTIME_DIR is invalid`, `Couldn't load Vulkan`, …) and the memory
 * they take (Dawn plus the drivers: ~70 MB, LLVM for Mesa's lavapipe) stay there: only an adapter
 * worth using is then loaded in this process. Each line the child printed goes to `log`.
 */
function probeAdapters(
  backends: readonly DawnBackendName[],
  dawnOptions: readonly string[],
  powerPreference: string,
  log: (line: string) => void,
): Promise<ProbeRecord[]> {
  const request = JSON.stringify({ backends, dawnOptions, powerPreference });
  let pending = probes.get(request);
  if (pending === undefined) {
    pending = runProbe(request, backends, log);
    probes.set(request, pending);
  }
  return pending;
}

async function runProbe(
  request: string,
  backends: readonly DawnBackendName[],
  log: (line: string) => void,
): Promise<ProbeRecord[]> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const env = { ...process.env };
  // Mesa's EGL needs a platform without a display server; surfaceless works headless.
  if (backends.some((b) => b === 'opengles' || b === 'opengl') && !env['EGL_PLATFORM'])
    env['EGL_PLATFORM'] = 'surfaceless';
  const started = Date.now();
  const { stdout, stderr, status } = await new Promise<{
    stdout: string;
    stderr: string;
    status: string;
  }>((resolve) => {
    // cwd: this file's folder, so that `webgpu` resolves from here as an import here would.
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, request], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err, status: `did not start: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: out,
        stderr: err,
        status: signal
          ? Date.now() - started >= PROBE_TIMEOUT_MS
            ? `gave no answer within ${PROBE_TIMEOUT_MS / 1000} s`
            : `was killed by ${signal}`
          : `exited with code ${code}`,
      });
    });
  });
  const marked = stdout.lastIndexOf(PROBE_MARK);
  const chatter = [
    ...(marked < 0 ? stdout : stdout.slice(0, marked)).split('\n').map((l) => ['stdout', l]),
    ...stderr.split('\n').map((l) => ['stderr', l]),
  ].filter(([, l]) => (l as string).trim() !== '');
  for (const [stream, line] of chatter) log(`webgpu: probe ${stream}: ${line as string}`);
  log(`webgpu: probed Dawn ${backends.join(', ')} in a child process (${Date.now() - started} ms)`);
  if (marked < 0) {
    const last = chatter.at(-1)?.[1];
    const why = `the adapter probe ${status}${last ? ` (${last})` : ''}`;
    return backends.map((backend) => ({ backend, error: why }));
  }
  const answer = JSON.parse(stdout.slice(marked + PROBE_MARK.length).split('\n')[0] as string) as
    { importError: string } | { records: ProbeRecord[] };
  if ('importError' in answer) {
    throw new Error(
      `the "webgpu" package (Dawn for Node) is not installed or does not load: ${answer.importError} — npm install webgpu @tensorflow/tfjs-backend-webgpu`,
    );
  }
  return answer.records;
}

/**
 * Loads tfjs' WebGPU backend on Dawn (the `webgpu` npm package) in Node and makes it the active
 * tfjs backend.
 *
 * Installs Dawn's `GPU*` globals and `navigator.gpu`, tries the Dawn backends in
 * `options.dawnBackends` order, takes the first adapter that is a hardware GPU (or any adapter
 * when `allowSoftwareAdapter`), registers tfjs' `WebGPUBackend` on a device of that adapter
 * under the name `webgpu`, and checks it computes (a small matmul read back asynchronously).
 * Later calls reuse the same adapter and device. Most users call `initBackend()` instead, which
 * calls this for the `webgpu` candidate.
 *
 * Without `allowSoftwareAdapter`, the adapters are first probed in a short-lived child process
 * (once per process): when no hardware adapter is found, Dawn never loads here, so nothing of its
 * or the drivers' output reaches this process' stderr (it goes to `options.log`) and nothing of
 * their memory stays (a few MB instead of ~70 MB with Mesa's Vulkan drivers installed). With a
 * hardware adapter, Dawn then loads here too (a few hundred ms more start-up).
 *
 * On this backend **every read must be asynchronous** (`await t.data()`, `await t.array()`):
 * a synchronous read of a GPU tensor throws a `BACKEND` error.
 *
 * @param options see {@link LoadWebGpuOptions}
 * @returns a {@link LoadWebGpuResult} with the adapter's name and whether it is software
 * @throws Error (not a DenseHybridError: `initBackend` wraps it) naming what is missing: the
 *   `webgpu` or `@tensorflow/tfjs-backend-webgpu` package, any adapter, or a hardware adapter
 *   (with the software adapters that were refused); DenseHybridError `INVALID_OPTION` for an
 *   unknown `DENSEHYBRID_WEBGPU_BACKEND`
 * @example
 * ```ts
 * import { initBackend } from '@densehybrid/tfjs-wasm-training';
 * // DENSEHYBRID_BACKEND=webgpu node app.mjs
 * const report = await initBackend({ log: console.log });
 * console.log(report.adapter); // { name: 'NVIDIA GeForce RTX 4090', software: false, … }
 * ```
 */
export async function loadWebGpu(options: LoadWebGpuOptions = {}): Promise<LoadWebGpuResult> {
  const log = options.log ?? (() => {});
  const allowSoftware =
    options.allowSoftwareAdapter ?? DEFAULT_LOAD_WEBGPU_OPTIONS.allowSoftwareAdapter;
  const module = '@tensorflow/tfjs-backend-webgpu';

  if (active) {
    if (active.result.adapter.software && !allowSoftware) {
      throw new Error(
        `only a software adapter is available (${active.result.adapter.name}); set DENSEHYBRID_BACKEND=webgpu to use it anyway`,
      );
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error(`setBackend('webgpu') returned false`);
    return active.result;
  }

  const envBackend =
    typeof process !== 'undefined' ? process.env['DENSEHYBRID_WEBGPU_BACKEND'] : undefined;
  const isLinux = typeof process !== 'undefined' && process.platform === 'linux';
  const dawnBackends: readonly DawnBackendName[] =
    options.dawnBackends ??
    (envBackend
      ? [parseDawnBackend(envBackend)]
      : allowSoftware && isLinux
        ? ['default', 'opengles']
        : ['default']);
  // Without permission for software adapters, Linux needs Vulkan (Dawn's only hardware
  // backend there). No Vulkan loader means no adapter: say so without loading Dawn, which would
  // print its own "Couldn't load Vulkan" warning on stderr.
  if (
    isLinux &&
    !allowSoftware &&
    dawnBackends.length === 1 &&
    dawnBackends[0] === 'default' &&
    !(await hasVulkanLoader())
  ) {
    throw new Error(
      'no Vulkan loader (libvulkan.so.1) on this Linux system, so no hardware WebGPU adapter: install the GPU driver with Vulkan support (NVIDIA driver, or mesa-vulkan-drivers) and libvulkan1',
    );
  }

  const powerPreference = options.powerPreference ?? DEFAULT_LOAD_WEBGPU_OPTIONS.powerPreference;
  let toLoad = dawnBackends;
  if (!allowSoftware) {
    const records = await probeAdapters(
      dawnBackends,
      options.dawnOptions ?? [],
      powerPreference,
      log,
    );
    const tried: string[] = [];
    let found: DawnBackendName | undefined;
    for (const r of records) {
      if ('error' in r) {
        tried.push(`${r.backend}: ${r.error}`);
        log(`webgpu: Dawn backend ${r.backend} failed: ${r.error}`);
      } else if ('none' in r) {
        tried.push(`${r.backend}: no adapter`);
        log(`webgpu: Dawn backend ${r.backend}: no adapter`);
      } else if (isSoftwareAdapter(r.info)) {
        const name = adapterName(r.info);
        tried.push(`${r.backend}: software adapter ${name} refused`);
        log(
          `webgpu: refusing software adapter ${name} (Dawn ${r.backend}); DENSEHYBRID_BACKEND=webgpu allows it`,
        );
      } else {
        found = r.backend;
        break;
      }
    }
    if (found === undefined) {
      throw new Error(
        `no hardware WebGPU adapter (${tried.join('; ')}); DENSEHYBRID_BACKEND=webgpu allows a software adapter`,
      );
    }
    toLoad = [found];
  }

  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu' as string)) as DawnModule;
  } catch (e) {
    throw new Error(
      `the "webgpu" package (Dawn for Node) is not installed or does not load: ${firstLine(e)} — npm install webgpu @tensorflow/tfjs-backend-webgpu`,
    );
  }

  const tried: string[] = [];
  let chosen: { gpu: GpuLike; adapter: AdapterLike; report: WebGpuAdapterReport } | undefined;
  for (const dawnBackend of toLoad) {
    if (dawnBackend === 'opengles' || dawnBackend === 'opengl') {
      // Mesa's EGL needs a platform without a display server; surfaceless works headless.
      if (isLinux && !process.env['EGL_PLATFORM']) process.env['EGL_PLATFORM'] = 'surfaceless';
    }
    let found: Awaited<ReturnType<typeof requestAdapter>>;
    let gpu: GpuLike;
    try {
      gpu = dawn.create([
        ...(dawnBackend === 'default' ? [] : [`backend=${dawnBackend}`]),
        ...(options.dawnOptions ?? []),
      ]);
      found = await requestAdapter(gpu, powerPreference);
    } catch (e) {
      tried.push(`${dawnBackend}: ${firstLine(e)}`);
      log(`webgpu: Dawn backend ${dawnBackend} failed: ${firstLine(e)}`);
      continue;
    }
    if (!found) {
      tried.push(`${dawnBackend}: no adapter`);
      log(`webgpu: Dawn backend ${dawnBackend}: no adapter`);
      continue;
    }
    const info = found.adapter.info ?? {};
    const report: WebGpuAdapterReport = {
      name: adapterName(info),
      software: isSoftwareAdapter(info),
      dawnBackend,
      featureLevel: found.featureLevel,
    };
    if (report.software && !allowSoftware) {
      tried.push(`${dawnBackend}: software adapter ${report.name} refused`);
      log(
        `webgpu: refusing software adapter ${report.name} (Dawn ${dawnBackend}); DENSEHYBRID_BACKEND=webgpu allows it`,
      );
      continue;
    }
    log(
      `webgpu: adapter ${report.name} (Dawn ${dawnBackend}, ${report.featureLevel}${report.software ? ', software' : ''})`,
    );
    chosen = { gpu, adapter: found.adapter, report };
    break;
  }
  if (!chosen) {
    throw new Error(
      `no ${allowSoftware ? '' : 'hardware '}WebGPU adapter (${tried.join('; ')})${
        allowSoftware ? '' : '; DENSEHYBRID_BACKEND=webgpu allows a software adapter'
      }`,
    );
  }

  installGlobals(dawn, chosen.gpu);
  let tfWebGpu: TfWebGpuModule;
  try {
    tfWebGpu = (await import(module as string)) as TfWebGpuModule;
  } catch (e) {
    throw new Error(
      `${module} is not installed or does not load: ${firstLine(e)} — npm install @tensorflow/tfjs-backend-webgpu`,
    );
  }
  // Importing the package registers tfjs' own factory, which asks navigator.gpu for a core
  // adapter; replace it with one that uses the adapter chosen here.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const { adapter } = chosen;
  const device = await requestDevice(adapter);
  const state: { gpu: GpuLike; result: LoadWebGpuResult; device?: DeviceLike } = {
    gpu: chosen.gpu,
    device,
    result: { module, adapter: chosen.report, warnings: [] },
  };
  tf.registerBackend(
    'webgpu',
    () => {
      const backend = new tfWebGpu.WebGPUBackend(device, adapter.info);
      guardSyncReads(backend);
      return backend;
    },
    3,
  );
  if (!(await tf.setBackend('webgpu'))) throw new Error(`setBackend('webgpu') returned false`);
  await tf.ready();

  // Check that it computes: a matmul (never forwarded to the CPU by tfjs) read back async.
  const product = tf.tidy(() =>
    tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([3, 0, 0, 3], [2, 2])),
  );
  const values = await product.data();
  product.dispose();
  const expected = [3, 6, 9, 12];
  if (!expected.every((v, i) => values[i] === v)) {
    tf.removeBackend('webgpu');
    throw new Error(
      `adapter ${chosen.report.name} computed a wrong matmul ([${Array.from(values).join(', ')}] instead of [${expected.join(', ')}])`,
    );
  }

  const warnings: string[] = [];
  if (chosen.report.software) {
    warnings.push(
      `webgpu: software adapter ${chosen.report.name} (emulated on the CPU, allowed because webgpu was forced): expect 10–100× slower than wasm; use it for tests, not training`,
    );
  }
  state.result = { module, adapter: chosen.report, warnings };
  active = state;
  releaseOnExit();
  return state.result;
}

/** Drops the Dawn device and the global references to Dawn's `GPU` object. */
function dropDawn(): boolean {
  const had = active !== undefined;
  try {
    active?.device?.destroy();
  } catch {
    // already lost or destroyed
  }
  const nav = (globalThis as Record<string, unknown>)['navigator'] as
    Record<string, unknown> | undefined;
  if (nav && 'gpu' in nav) delete nav['gpu'];
  active = undefined;
  return had;
}

/**
 * Releases the webgpu backend that {@link loadWebGpu} (or `initBackend`) set up: disposes tfjs'
 * `webgpu` backend and every tensor on it, destroys the Dawn device and removes `navigator.gpu`,
 * so nothing of Dawn keeps the process alive. Node exits on its own without this (the device
 * is also released at exit); call it to free the GPU in a long-running process, or if a driver
 * keeps the process from exiting. A later `loadWebGpu` / `initBackend` loads a fresh one. If
 * webgpu was the active backend, pick another with `initBackend` before running more ops.
 *
 * @returns true when a webgpu backend was released, false when none was loaded
 * @example
 * ```ts
 * import { initBackend, releaseWebGpu } from '@densehybrid/tfjs-wasm-training';
 * await initBackend({ backend: 'webgpu' });
 * // … train, evaluate …
 * releaseWebGpu();
 * ```
 */
export function releaseWebGpu(): boolean {
  if (active === undefined) return false;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  return dropDawn();
}

let exitHookInstalled = false;
/**
 * Dawn keeps its instance alive for as long as something references `navigator.gpu`; destroy
 * the device and drop the references when Node exits so teardown does not wait on the GPU.
 */
function releaseOnExit(): void {
  if (exitHookInstalled || typeof process === 'undefined') return;
  exitHookInstalled = true;
  process.once('exit', () => {
    dropDawn();
  });
}
