/**
 * The `@tensorflow/tfjs-backend-wasm` versions whose internals the SIMD kernels read (the
 * backend's `wasm.asm.memory`, `dataIdMap`, `makeOutput`, `typedArrayFromHeap`), and how the
 * running version is found.
 */

/**
 * The `@tensorflow/tfjs-backend-wasm` versions this package's wasm kernels were written and
 * tested against; `registerWasmTrainingKernels()` registers them for these only.
 *
 * @example
 * ```ts
 * import { SUPPORTED_WASM_VERSIONS } from '@densehybrid/tfjs-wasm-training';
 * console.log(SUPPORTED_WASM_VERSIONS.join(', ')); // '4.22.0'
 * ```
 */
export const SUPPORTED_WASM_VERSIONS: readonly string[] = ['4.22.0'];

/**
 * Whether `version` is one of {@link SUPPORTED_WASM_VERSIONS} (exactly: a release candidate or
 * a patch release may move the internals the kernels read).
 *
 * @param version a `@tensorflow/tfjs-backend-wasm` version, e.g. its `version_wasm` export
 * @returns `true` for a supported version, `false` otherwise (also for `undefined`)
 * @example
 * ```ts
 * import { supportedWasmVersion } from '@densehybrid/tfjs-wasm-training';
 * supportedWasmVersion('4.22.0'); // true
 * supportedWasmVersion('4.23.0-rc.0'); // false
 * ```
 */
export function supportedWasmVersion(version: string | undefined): boolean {
  return version !== undefined && SUPPORTED_WASM_VERSIONS.includes(version);
}

/**
 * The version of the `@tensorflow/tfjs-backend-wasm` this package resolves (its peer), read from
 * its package.json without loading the backend; `undefined` where it cannot be read (no Node
 * `module` API, e.g. in a browser bundle, or not installed).
 * @internal
 */
export function installedWasmVersion(): string | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    const mod = proc?.getBuiltinModule?.('module') as
      { createRequire(url: string): (id: string) => unknown } | undefined;
    const pkg = mod?.createRequire(import.meta.url)('@tensorflow/tfjs-backend-wasm/package.json');
    const version = (pkg as { version?: unknown } | undefined)?.version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}
