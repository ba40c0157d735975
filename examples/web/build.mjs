// Builds the page into dist/: the app bundled by esbuild, ONNX Runtime Web and its wasm copied
// next to it (the page loads nothing from the internet).
//
//   node build.mjs [--outdir dist] [--dev]
//
// ONNX Runtime Web is not bundled into app.js: its wasm glue starts worker threads from its own
// URL, so each build the page uses stays a file of its own under ort/, imported by app.js when
// needed: `onnxruntime-web/webgpu` (the native WebGPU execution provider, ONNX Runtime's current
// one; the older JSEP build is deprecated) where the browser has a WebGPU adapter, and
// `onnxruntime-web/wasm` (the CPU build) otherwise or when the WebGPU build cannot run a model.
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The files of onnxruntime-web the page needs, copied into `<outdir>/ort/`. */
export const ORT_FILES = [
  'ort.webgpu.min.mjs',
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort.wasm.min.mjs',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];

/** Where app.js imports each ONNX Runtime Web build from (relative to the page). */
const ORT_IMPORTS = {
  'onnxruntime-web/webgpu': './ort/ort.webgpu.min.mjs',
  'onnxruntime-web/wasm': './ort/ort.wasm.min.mjs',
};

/** The folder of onnxruntime-web's dist files (its exports map names the wasm files only). */
function ortDistDir() {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

/**
 * Builds the page.
 *
 * @param {{ outdir?: string, minify?: boolean }} [options] outdir: default `dist` next to this
 *   file; minify: default true
 * @returns {Promise<{ outdir: string }>}
 */
export async function buildPage(options = {}) {
  const outdir = resolve(options.outdir ?? join(HERE, 'dist'));
  const minify = options.minify ?? true;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(join(outdir, 'ort'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(HERE, 'src/main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome113', 'firefox121', 'safari17'],
    minify,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [
      {
        name: 'onnxruntime-web-external',
        setup(build) {
          build.onResolve({ filter: /^onnxruntime-web(\/.*)?$/ }, (args) => {
            const path = ORT_IMPORTS[/** @type {keyof typeof ORT_IMPORTS} */ (args.path)];
            if (path === undefined)
              throw new Error(
                `build: expected onnxruntime-web imports from ${Object.keys(ORT_IMPORTS).join(', ')}, got ${args.path}`,
              );
            return { path, external: true };
          });
        },
      },
    ],
  });
  const ortDir = ortDistDir();
  for (const f of ORT_FILES) await copyFile(join(ortDir, f), join(outdir, 'ort', f));
  // the builds name source maps that are not copied: drop the dangling references
  for (const f of ORT_FILES.filter((f) => f.endsWith('.mjs'))) {
    const path = join(outdir, 'ort', f);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  }
  for (const f of ['index.html', 'style.css'])
    await copyFile(join(HERE, 'src', f), join(outdir, f));
  return { outdir };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { outdir: { type: 'string' }, dev: { type: 'boolean', default: false } },
  });
  const started = performance.now();
  const { outdir } = await buildPage({
    ...(values.outdir === undefined ? {} : { outdir: values.outdir }),
    minify: !values.dev,
  });
  console.log(`built ${outdir} in ${Math.round(performance.now() - started)} ms`);
}
