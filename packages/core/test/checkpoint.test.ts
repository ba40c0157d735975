import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ladderDenseNet } from '@densehybrid/backbones';
import {
  checkpointDigest,
  DenseHybridError,
  disposeCheckpoint,
  loadCheckpoint,
  restoreVariables,
  saveCheckpoint,
  withPrefix,
} from '@densehybrid/core';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

const TOY = {
  numClasses: 3,
  growthRate: 4,
  blockConfig: [1, 1, 1, 1],
  numInitFeatures: 8,
  sppSize: 8,
  upSizes: [8, 8, 16],
};

const outputs = (model: ReturnType<typeof ladderDenseNet>, x: tf.Tensor4D): Float32Array => {
  const o = model.apply(x);
  const data = o.logits.dataSync() as Float32Array;
  tf.dispose([o.preLogits, o.logits]);
  return data;
};

describe('checkpoints', () => {
  it('save → load → restore gives identical outputs; optimizer state and meta round-trip; no leaks', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'ckpt-')), 'run', 'last');
    const model = ladderDenseNet({ ...TOY, seed: 1 });
    const x = tf.randomUniform([2, 29, 35, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    // One training-mode pass moves the running statistics away from their initial values.
    const t = model.apply(x, { training: true });
    tf.dispose([t.preLogits, t.logits]);
    const expected = outputs(model, x);
    const m = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const v = tf.tensor1d([7], 'int32');
    const before = tf.memory().numTensors;
    const result = await saveCheckpoint(dir, {
      config: model.config,
      variables: model.variables,
      optimizer: {
        name: 'adam',
        step: 12,
        tensors: [
          { name: 'w/m', tensor: m },
          { name: 'w/v', tensor: v },
        ],
        scalars: { learningRate: 1e-4 },
      },
      meta: { step: 12, rng: [1, 2, 3], threshold: -3.25, nested: { ok: true } },
    });
    expect(result.variableBytes).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);

    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.config).toEqual(JSON.parse(JSON.stringify(model.config)));
    expect(ckpt.meta).toEqual({ step: 12, rng: [1, 2, 3], threshold: -3.25, nested: { ok: true } });
    expect(ckpt.optimizer?.name).toBe('adam');
    expect(ckpt.optimizer?.step).toBe(12);
    expect(ckpt.optimizer?.scalars).toEqual({ learningRate: 1e-4 });
    expect(ckpt.optimizer?.tensors.map((n) => n.name)).toEqual(['w/m', 'w/v']);
    expect(ckpt.optimizer?.tensors[0]?.tensor.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(ckpt.optimizer?.tensors[1]?.tensor.dtype).toBe('int32');
    expect([...ckpt.variables.keys()]).toEqual([...model.variables.keys()]);

    const other = ladderDenseNet({ ...(ckpt.config as typeof TOY), seed: 99 });
    expect(outputs(other, x)).not.toEqual(expected);
    const r = restoreVariables(other, ckpt);
    expect(r.restored).toBe(model.variables.size);
    expect(outputs(other, x)).toEqual(expected);
    disposeCheckpoint(ckpt);
    expect(tf.memory().numTensors).toBe(before + other.variables.size);
    other.dispose();
    model.dispose();
    tf.dispose([x, m, v]);
  });

  it('replaces an existing checkpoint without leaving temporary directories; recovers an interrupted replace', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const dir = join(parent, 'ck');
    const w = tf.tensor1d([1, 2, 3]);
    await saveCheckpoint(dir, {
      config: { architecture: 'x', numClasses: 1 },
      variables: new Map([['w', w]]),
      meta: { n: 1 },
    });
    await saveCheckpoint(dir, {
      config: { architecture: 'x', numClasses: 1 },
      variables: new Map([['w', w]]),
      meta: { n: 2 },
    });
    expect(await readdir(parent)).toEqual(['ck']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.meta).toEqual({ n: 2 });
    disposeCheckpoint(loaded);
    // A crash between "rename old aside" and "rename new in" leaves only the old copy.
    await rename(dir, join(parent, '.ck.old-123-abcd'));
    const recovered = await loadCheckpoint(dir);
    expect(recovered.meta).toEqual({ n: 2 });
    expect(recovered.dir).toBe(join(parent, '.ck.old-123-abcd'));
    disposeCheckpoint(recovered);
    // A failing save (disposed tensor) leaves the existing checkpoint untouched.
    await saveCheckpoint(dir, {
      config: { architecture: 'x', numClasses: 1 },
      variables: new Map([['w', w]]),
      meta: { n: 3 },
    });
    const dead = tf.scalar(1);
    dead.dispose();
    await expect(
      saveCheckpoint(dir, { config: {}, variables: new Map([['w', dead]]) }),
    ).rejects.toThrow(/expected tensor "w" to be alive/);
    const still = await loadCheckpoint(dir);
    expect(still.meta).toEqual({ n: 3 });
    disposeCheckpoint(still);
    w.dispose();
  });

  it('names the first mismatching weight and both shapes for a different architecture', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'ckpt-')), 'ck');
    const three = ladderDenseNet({ ...TOY, numClasses: 3 });
    await saveCheckpoint(dir, { config: three.config, variables: three.variables });
    const four = ladderDenseNet({ ...TOY, numClasses: 4, seed: 5 });
    const ckpt = await loadCheckpoint(dir);
    let caught: unknown;
    try {
      restoreVariables(four, ckpt);
    } catch (e) {
      caught = e;
    }
    expect(DenseHybridError.is(caught) && caught.code).toBe('MODEL_LOAD');
    expect((caught as Error).message).toMatch(
      /weight "logits\.conv\.weight" with shape \[1,1,16,4\].*got shape \[1,1,16,3\]/,
    );
    // Nothing was assigned: the first weight still differs.
    const a = four.variables.get('backbone.features.conv0.weight')!.dataSync();
    expect(a).not.toEqual(ckpt.variables.get('backbone.features.conv0.weight')!.dataSync());
    disposeCheckpoint(ckpt);
    three.dispose();
    four.dispose();
  });

  it('restores prefixed parts of a combined checkpoint; reports missing and unexpected names', async () => {
    const model = ladderDenseNet({ ...TOY, seed: 2 });
    const head = new Map([['conv.weight', tf.variable(tf.ones([1, 1, 16, 2]))]]);
    const all = new Map<string, tf.Tensor>([
      ...withPrefix('model.', model.variables),
      ...withPrefix('head.', head),
    ]);
    const dir = join(await mkdtemp(join(tmpdir(), 'ckpt-')), 'ck');
    await saveCheckpoint(dir, { config: model.config, variables: all });
    const ckpt = await loadCheckpoint(dir);
    const head2 = new Map([['conv.weight', tf.variable(tf.zeros([1, 1, 16, 2]))]]);
    expect(restoreVariables(head2, ckpt, { prefix: 'head.' }).restored).toBe(1);
    expect(head2.get('conv.weight')!.dataSync()[0]).toBe(1);
    expect(restoreVariables(model, ckpt, { prefix: 'model.' }).restored).toBe(model.variables.size);
    expect(() => restoreVariables(model, ckpt)).toThrow(
      /got \d+ missing: "backbone\.features\.conv0\.weight"/,
    );
    const r = restoreVariables(head2, ckpt, {
      prefix: 'model.',
      allowMissing: true,
      allowUnexpected: true,
    });
    expect(r.restored).toBe(0);
    expect(r.missing).toEqual(['conv.weight']);
    expect(r.unexpected[0]).toBe('model.backbone.features.conv0.weight');
    expect(() => restoreVariables(head2, ckpt, { prefix: 'model.', allowMissing: true })).toThrow(
      /under prefix "model\.", got \d+ unexpected: "model\.backbone/,
    );
    disposeCheckpoint(ckpt);
    model.dispose();
    tf.dispose([...head.values(), ...head2.values()]);
  });

  it('rejects a truncated weights file with MODEL_LOAD', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'ckpt-')), 'ck');
    const w = tf.tensor1d([1, 2, 3]);
    await saveCheckpoint(dir, { config: {}, variables: new Map([['w', w]]) });
    await truncate(join(dir, 'variables.safetensors'), 20);
    await expect(loadCheckpoint(dir)).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(/bytes \(per checkpoint.json\), got 20 \(truncated/),
    });
    await expect(loadCheckpoint(join(dir, 'missing'))).rejects.toMatchObject({ code: 'IO' });
    w.dispose();
  });
  it('records a SHA-256 per file; a same-size corruption is MODEL_LOAD naming the file and both hashes', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'ckpt-')), 'ck');
    const w = tf.tensor1d([1, 2, 3, 4]);
    const m = tf.tensor1d([5, 6]);
    await saveCheckpoint(dir, {
      config: {},
      variables: new Map([['w', w]]),
      optimizer: { name: 'adam', step: 1, tensors: [{ name: 'w/m', tensor: m }] },
    });
    const manifest = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as {
      variables: { sha256: string };
      optimizer: { sha256: string };
    };
    const sha = async (file: string): Promise<string> =>
      createHash('sha256')
        .update(await readFile(join(dir, file)))
        .digest('hex');
    expect(manifest.variables.sha256).toBe(await sha('variables.safetensors'));
    expect(manifest.optimizer.sha256).toBe(await sha('optimizer.safetensors'));
    for (const file of ['variables.safetensors', 'optimizer.safetensors']) {
      const path = join(dir, file);
      const good = await readFile(path);
      const bad = Buffer.from(good);
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x40; // a weight's byte, same size
      await writeFile(path, bad);
      const before = tf.memory().numTensors;
      const error = await loadCheckpoint(dir).catch((e: unknown) => e);
      expect(DenseHybridError.is(error) && error.code).toBe('MODEL_LOAD');
      const expected = createHash('sha256').update(good).digest('hex');
      const got = createHash('sha256').update(bad).digest('hex');
      expect((error as Error).message).toBe(
        `loadCheckpoint: expected ${JSON.stringify(path)} with SHA-256 ${expected} (per checkpoint.json), got ${got} (corrupted or replaced file)`,
      );
      expect(tf.memory().numTensors).toBe(before);
      await writeFile(path, good);
    }
    disposeCheckpoint(await loadCheckpoint(dir));
    tf.dispose([w, m]);
  });

  it('loads checkpoints written before the hashes; checkpointDigest names the content, not the write', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const w = tf.tensor1d([1, 2, 3]);
    const save = (name: string, meta: Record<string, unknown>, createdAt: string) =>
      saveCheckpoint(
        join(parent, name),
        { config: { architecture: 'x' }, variables: new Map([['w', w]]), meta },
        { createdAt },
      );
    await save('a', { n: 1 }, '2020-01-01T00:00:00.000Z');
    await save('b', { n: 1 }, '2021-01-01T00:00:00.000Z'); // same content, written later
    await save('c', { n: 2 }, '2020-01-01T00:00:00.000Z'); // other meta (e.g. a threshold)
    const a = await checkpointDigest(join(parent, 'a'));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await checkpointDigest(join(parent, 'b'))).toBe(a);
    expect(await checkpointDigest(join(parent, 'c'))).not.toBe(a);
    const loaded = await loadCheckpoint(join(parent, 'a'));
    expect(loaded.digest).toBe(a);
    disposeCheckpoint(loaded);

    // A checkpoint of before the hashes: same files, no sha256 in checkpoint.json.
    const old = join(parent, 'old');
    await mkdir(old);
    for (const f of ['variables.safetensors'])
      await writeFile(join(old, f), await readFile(join(parent, 'a', f)));
    const manifest = JSON.parse(await readFile(join(parent, 'a', 'checkpoint.json'), 'utf8')) as {
      variables: Record<string, unknown>;
    };
    delete manifest.variables['sha256'];
    await writeFile(join(old, 'checkpoint.json'), JSON.stringify(manifest));
    const legacy = await loadCheckpoint(old);
    expect(Array.from(legacy.variables.get('w')!.dataSync())).toEqual([1, 2, 3]);
    expect(legacy.digest).toBe(a);
    disposeCheckpoint(legacy);
    expect(await checkpointDigest(old)).toBe(a);
    // Other weights, other digest.
    const v = tf.tensor1d([1, 2, 4]);
    await saveCheckpoint(
      join(parent, 'd'),
      { config: { architecture: 'x' }, variables: new Map([['w', v]]), meta: { n: 1 } },
      { createdAt: '2020-01-01T00:00:00.000Z' },
    );
    expect(await checkpointDigest(join(parent, 'd'))).not.toBe(a);
    tf.dispose([w, v]);
  });

  it('removes the temporary folders a killed save left, on the next save', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const dir = join(parent, 'state');
    const w = tf.tensor1d([1, 2, 3]);
    await saveCheckpoint(dir, { config: {}, variables: new Map([['w', w]]) });
    // What `kill -9` during a save leaves: a half-written temporary folder, and (between the
    // renames) the previous state renamed aside.
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    for (const name of [`.state.tmp-${dead}-1a2b3c4d`, `.state.old-${dead}-1a2b3c4e`]) {
      await mkdir(join(parent, name));
      await writeFile(join(parent, name, 'variables.safetensors'), 'partial');
    }
    await saveCheckpoint(dir, { config: {}, variables: new Map([['w', w]]), meta: { n: 2 } });
    expect(await readdir(parent)).toEqual(['state']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.meta).toEqual({ n: 2 });
    disposeCheckpoint(loaded);
    w.dispose();
  });
});
