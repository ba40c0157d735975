// Serves the built page on 127.0.0.1 only (never on other interfaces).
//
//   node serve.mjs [--dir dist] [--port 8080] [--model path/to/model.onnx]
//
// --model serves that one file at /model.onnx and prints the page's URL with ?model=model.onnx.
// The responses carry COOP/COEP headers, so the page is cross-origin isolated and ONNX Runtime
// Web runs its wasm kernels on several threads.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The only address the server listens on. */
export const HOST = '127.0.0.1';

/** Defaults of {@link startServer}. */
export const DEFAULT_SERVE_OPTIONS = Object.freeze({ dir: join(HERE, 'dist'), port: 8080 });

/** @type {Readonly<Record<string, string>>} */
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
};

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/**
 * Starts a static file server for `dir` on 127.0.0.1.
 *
 * @param {{ dir?: string, port?: number, model?: string }} [options] port 0 picks a free port;
 *   model: a file served at /model.onnx
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 * @example
 * ```js
 * const server = await startServer({ port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT/
 * await server.close();
 * ```
 */
export async function startServer(options = {}) {
  const dir = resolve(options.dir ?? DEFAULT_SERVE_OPTIONS.dir);
  const port = options.port ?? DEFAULT_SERVE_OPTIONS.port;
  const model = options.model === undefined ? undefined : resolve(options.model);
  const index = await stat(join(dir, 'index.html')).catch(() => undefined);
  if (!index?.isFile())
    throw new Error(
      `serve: expected a built page (index.html) in ${dir}, got none; run \`npm run bundle\` in examples/web first`,
    );
  if (model !== undefined && !(await stat(model).catch(() => undefined))?.isFile())
    throw new Error(`serve: expected --model to be an .onnx file, got ${model} (not found)`);
  const server = createServer(async (req, res) => {
    /** @param {number} status @param {string} text */
    const send = (status, text) => {
      res.writeHead(status, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request');
    }
    let file;
    if (model !== undefined && path === '/model.onnx') file = model;
    else {
      file = resolve(dir, `.${path.endsWith('/') ? `${path}index.html` : path}`);
      if (file !== dir && !file.startsWith(dir + sep)) return send(403, 'forbidden');
    }
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return send(404, 'not found');
    res.writeHead(200, {
      ...HEADERS,
      'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await /** @type {Promise<void>} */ (
    new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(port, HOST, () => {
        server.off('error', fail);
        ok();
      });
    })
  );
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return {
    url: `http://${HOST}:${actual}/`,
    port: actual,
    close: () =>
      /** @type {Promise<void>} */ (
        new Promise((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        })
      ),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      model: { type: 'string' },
    },
  });
  const port = values.port === undefined ? DEFAULT_SERVE_OPTIONS.port : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: expected --port to be an integer in 0..65535, got ${values.port}`);
    process.exit(2);
  }
  try {
    const server = await startServer({
      port,
      ...(values.dir === undefined ? {} : { dir: values.dir }),
      ...(values.model === undefined ? {} : { model: values.model }),
    });
    const page = values.model === undefined ? server.url : `${server.url}?model=model.onnx`;
    console.log(`serving ${resolve(values.dir ?? DEFAULT_SERVE_OPTIONS.dir)} at ${page}`);
    console.log('(127.0.0.1 only; Ctrl-C stops)');
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
