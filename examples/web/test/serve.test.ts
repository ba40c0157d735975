// serve.mjs: 127.0.0.1 only, the headers that make the page cross-origin isolated, wasm's MIME
// type, the --model file, and nothing outside the served folder.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST, startServer } from '../serve.mjs';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (the path is sent as written: no URL normalisation of `..`). */
function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = request({ host: HOST, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('serve.mjs', () => {
  let root: string;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'densehybrid-serve-'));
    await mkdir(join(root, 'site', 'ort'), { recursive: true });
    await writeFile(join(root, 'site', 'index.html'), '<!doctype html><title>page</title>');
    await writeFile(join(root, 'site', 'ort', 'x.wasm'), Buffer.from([0, 97, 115, 109]));
    await writeFile(join(root, 'secret.txt'), 'outside');
    await writeFile(join(root, 'my model.onnx'), 'ONNX');
    server = await startServer({
      dir: join(root, 'site'),
      port: 0,
      model: join(root, 'my model.onnx'),
    });
  });

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 and serves the page cross-origin isolated, wasm as application/wasm', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await get(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>page</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
    const wasm = await get(server.port, '/ort/x.wasm');
    expect([wasm.status, wasm.headers['content-type'], wasm.headers['content-length']]).toEqual([
      200,
      'application/wasm',
      '4',
    ]);
    const head = await get(server.port, '/ort/x.wasm', 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('serves --model at /model.onnx', async () => {
    const model = await get(server.port, '/model.onnx');
    expect([model.status, model.body]).toEqual([200, 'ONNX']);
  });

  it('refuses paths outside the folder, other methods, and answers 404 for missing files', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/ort/..%2f..%2fsecret.txt']) {
      const r = await get(server.port, path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.body, path).not.toContain('outside');
    }
    // an encoded `/` survives URL parsing: only the folder check stops this one
    expect((await get(server.port, '/ort/..%2f..%2fsecret.txt')).status).toBe(403);
    expect((await get(server.port, '/', 'POST')).status).toBe(405);
    expect((await get(server.port, '/nope.js')).status).toBe(404);
    expect((await get(server.port, '/%zz')).status).toBe(400);
  });

  it('says how to build the page when the folder has none', async () => {
    await expect(startServer({ dir: join(root, 'empty'), port: 0 })).rejects.toThrow(
      /serve: expected a built page \(index.html\) in .*empty, got none; run `npm run bundle` in examples\/web first/,
    );
  });
});
