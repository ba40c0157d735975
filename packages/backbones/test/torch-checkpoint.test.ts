import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DenseHybridError,
  decodeSafetensor,
  ladderDenseNet,
  loadWeights,
  parseTorchCheckpoint,
  readTorchCheckpoint,
  serializeSafetensors,
} from '@densehybrid/backbones';
import {
  PickleWriter,
  writeTorchLegacy,
  writeTorchZip,
  zipStored,
} from '../../../test-support/torch-zip.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

function expectRefused(f: () => unknown, ...parts: string[]): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(DenseHybridError.is(error)).toBe(true);
  expect((error as DenseHybridError).code).toBe('INVALID_INPUT');
  for (const p of parts) expect((error as Error).message).toContain(p);
}

/** A torch zip whose data.pkl is `pickle` (and nothing else). */
const withPickle = (pickle: Uint8Array): Uint8Array =>
  writeTorchZip({ w: { shape: [1], data: [1] } }, { pickle });

describe('parseTorchCheckpoint', () => {
  it('reads every tensor of a state_dict in order, values exact, with int64 and _metadata', () => {
    const a = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    const bytes = writeTorchZip({
      'conv.weight': { shape: [2, 3, 2, 2], data: a },
      'bn.running_var': { shape: [3], data: [1.5, 2.25, 1e-30] },
      'bn.num_batches_tracked': { dtype: 'I64', shape: [], data: [123456789012] },
      scalar: { shape: [], data: [-0.5] },
      empty: { shape: [0, 4], data: [] },
    });
    const sd = parseTorchCheckpoint(bytes, { source: 'x.pt' });
    expect(sd.format).toBe('pytorch-zip');
    expect([...sd.tensors.keys()]).toEqual([
      'conv.weight',
      'bn.running_var',
      'bn.num_batches_tracked',
      'scalar',
      'empty',
    ]);
    const w = sd.tensors.get('conv.weight')!;
    expect([w.dtype, w.shape]).toEqual(['F32', [2, 3, 2, 2]]);
    expect(Array.from(decodeSafetensor(w))).toEqual(Array.from(a));
    expect(Array.from(decodeSafetensor(sd.tensors.get('bn.running_var')!))).toEqual(
      Array.from(Float32Array.from([1.5, 2.25, 1e-30])),
    );
    const n = sd.tensors.get('bn.num_batches_tracked')!;
    expect([n.dtype, n.shape]).toEqual(['I64', []]);
    expect(new DataView(n.bytes.buffer, n.bytes.byteOffset).getBigInt64(0, true)).toBe(
      123456789012n,
    );
    expect(Array.from(decodeSafetensor(sd.tensors.get('scalar')!))).toEqual([-0.5]);
    expect(sd.tensors.get('empty')!.bytes.length).toBe(0);
    expect(sd.others.size).toBe(0);
    expect(sd.stateDictKey).toBe('');
  });

  it('reads float16, bfloat16 and float64 storages', () => {
    const values = [0, 1, -2, 0.5, 65504, -6.103515625e-5, 3.140625];
    const sd = parseTorchCheckpoint(
      writeTorchZip({
        h: { dtype: 'F16', shape: [7], data: values },
        b: { dtype: 'BF16', shape: [7], data: values.map((v) => (v === 65504 ? 65536 : v)) },
        d: { dtype: 'F64', shape: [7], data: values },
      }),
    );
    expect(sd.tensors.get('h')!.dtype).toBe('F16');
    expect(Array.from(decodeSafetensor(sd.tensors.get('h')!))).toEqual(values);
    expect(Array.from(decodeSafetensor(sd.tensors.get('b')!))).toEqual(
      values.map((v) => (v === 65504 ? 65536 : v)),
    );
    expect(Array.from(decodeSafetensor(sd.tensors.get('d')!))).toEqual(values);
  });

  it('gathers non-contiguous views (transpose, offset, step) and shared storages in C order', () => {
    const storage = Array.from({ length: 30 }, (_, i) => i);
    const sd = parseTorchCheckpoint(
      writeTorchZip({
        // a 5×6 matrix stored row-major, read transposed: t[i][j] = storage[j*6 + i]
        t: { shape: [6, 5], view: { storage, offset: 0, stride: [1, 6] } },
        // the same storage: rows 1..2, every other column, from offset 7
        s: { shape: [2, 3], view: { storage, offset: 7, stride: [6, 2] }, shareStorageWith: 't' },
        // a contiguous slice at an offset
        c: { shape: [4], view: { storage, offset: 11, stride: [1] }, shareStorageWith: 't' },
        // broadcast dimension of size 1 with an arbitrary stride is still contiguous
        one: {
          shape: [1, 3],
          view: { storage, offset: 2, stride: [99, 1] },
          shareStorageWith: 't',
        },
      }),
    );
    const values = (k: string) => Array.from(decodeSafetensor(sd.tensors.get(k)!));
    const t: number[] = [];
    for (let i = 0; i < 6; i++) for (let j = 0; j < 5; j++) t.push(j * 6 + i);
    expect(values('t')).toEqual(t);
    expect(values('s')).toEqual([7, 9, 11, 13, 15, 17]);
    expect(values('c')).toEqual([11, 12, 13, 14]);
    expect(values('one')).toEqual([2, 3, 4]);
    expect(sd.tensors.get('s')!.shape).toEqual([2, 3]);
  });

  it('reads big-endian storages (byteorder "big") and files without byteorder', () => {
    const data = [1.25, -3, 1e-7, 42];
    for (const byteorder of ['big', 'little', 'none'] as const) {
      const sd = parseTorchCheckpoint(
        writeTorchZip(
          {
            w: { shape: [2, 2], data },
            i: { dtype: 'I64', shape: [1], data: [7] },
            t: {
              shape: [2, 2],
              view: { storage: data, offset: 0, stride: [1, 2] },
              shareStorageWith: 'w',
            },
          },
          { byteorder, archiveName: 'my_model' },
        ),
      );
      expect(Array.from(decodeSafetensor(sd.tensors.get('w')!))).toEqual(
        Array.from(Float32Array.from(data)),
      );
      expect(Array.from(decodeSafetensor(sd.tensors.get('t')!))).toEqual(
        Array.from(Float32Array.from([1.25, 1e-7, -3, 42])),
      );
      expect(Array.from(decodeSafetensor(sd.tensors.get('i')!))).toEqual([7]);
      expect(sd.metadata['byteorder']).toBe(byteorder === 'none' ? 'little' : byteorder);
      expect(sd.metadata['archive']).toBe('my_model');
    }
  });

  it('finds a state_dict wrapped in a dict, and keeps module. prefixes as saved', () => {
    const bytes = writeTorchZip(
      { 'module.a.weight': { shape: [1], data: [2] } },
      { wrapKey: 'state_dict', align: false },
    );
    const sd = parseTorchCheckpoint(bytes);
    expect(sd.stateDictKey).toBe('state_dict');
    expect([...sd.tensors.keys()]).toEqual(['module.a.weight']);
    expect(parseTorchCheckpoint(bytes, { stateDictKey: 'state_dict' }).tensors.size).toBe(1);
    expectRefused(
      () => parseTorchCheckpoint(bytes, { stateDictKey: 'model' }),
      'under "model"',
      '"state_dict", "epoch"',
    );
    const other = writeTorchZip({ a: { shape: [1], data: [2] } }, { wrapKey: 'weights' });
    expectRefused(() => parseTorchCheckpoint(other), 'expected a state_dict', '"weights"');
  });

  it('loads into a model with loadWeights (the result is a SafetensorsFile)', async () => {
    const model = ladderDenseNet({ preset: 'tiny', numClasses: 3, seed: 1 });
    const source = ladderDenseNet({ preset: 'tiny', numClasses: 3, seed: 2 });
    try {
      const dict: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [name, v] of source.variables) {
        // HWIO → OIHW
        const t = tf.tidy(() => (v.rank === 4 ? tf.transpose(v, [3, 2, 0, 1]) : v.clone()));
        dict[`module.${name}`] = { shape: t.shape, data: t.dataSync() as Float32Array };
        t.dispose();
      }
      const before = tf.memory().numTensors;
      const r = await loadWeights(model, parseTorchCheckpoint(writeTorchZip(dict)));
      expect(r.loaded).toBe(model.variables.size);
      expect(r.strippedPrefix).toBe('module.');
      expect(tf.memory().numTensors).toBe(before);
      for (const [name, v] of model.variables)
        expect(Array.from(v.dataSync())).toEqual(
          Array.from(source.variables.get(name)!.dataSync()),
        );
    } finally {
      model.dispose();
      source.dispose();
    }
  });
});

describe('parseTorchCheckpoint refuses malicious pickles', () => {
  it('refuses GLOBAL os.system (and posix.system) before calling anything', () => {
    for (const [module, name] of [
      ['os', 'system'],
      ['posix', 'system'],
      ['subprocess', 'Popen'],
    ] as const) {
      const p = new PickleWriter()
        .proto(2)
        .global(module, name)
        .str('touch /tmp/pwned')
        .raw(0x85)
        .reduce()
        .stop();
      expectRefused(
        () => parseTorchCheckpoint(withPickle(p.bytes())),
        `got the global ${module}.${name}; refused`,
        'collections.OrderedDict',
      );
    }
  });

  it('refuses __builtin__.eval, builtins.exec (STACK_GLOBAL) and torch internals outside the list', () => {
    const evalPickle = new PickleWriter()
      .proto(2)
      .global('__builtin__', 'eval')
      .str('1+1')
      .raw(0x85)
      .reduce()
      .stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(evalPickle.bytes())), '__builtin__.eval');
    const stack = new PickleWriter().proto(4).str('builtins').str('exec').raw(0x93).stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(stack.bytes())), 'builtins.exec');
    const torchLoad = new PickleWriter().proto(2).global('torch', 'load').stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(torchLoad.bytes())), 'torch.load');
    const nn = new PickleWriter().proto(2).global('torch.nn.modules.conv', 'Conv2d').stop();
    expectRefused(
      () => parseTorchCheckpoint(withPickle(nn.bytes())),
      'torch.nn.modules.conv.Conv2d',
    );
  });

  it('refuses REDUCE of anything but the accepted callables, and object-building opcodes', () => {
    // calling a storage class
    const storageCall = new PickleWriter()
      .proto(2)
      .global('torch', 'FloatStorage')
      .emptyTuple()
      .reduce()
      .stop();
    expectRefused(
      () => parseTorchCheckpoint(withPickle(storageCall.bytes())),
      'a call of torch.FloatStorage',
    );
    // calling a string, or the result of another call
    const stringCall = new PickleWriter().proto(2).str('os.system').emptyTuple().reduce().stop();
    expectRefused(
      () => parseTorchCheckpoint(withPickle(stringCall.bytes())),
      'a call of "os.system"',
    );
    const nested = new PickleWriter().proto(2).orderedDict().emptyTuple().reduce().stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(nested.bytes())), 'a call of');
    // INST / OBJ / NEWOBJ build arbitrary objects
    for (const op of [0x69, 0x6f, 0x81, 0x92, 0x82]) {
      const p = new PickleWriter().proto(2).emptyTuple().raw(op, 0x0a, 0x0a).stop();
      expectRefused(() => parseTorchCheckpoint(withPickle(p.bytes())), 'object-building opcode');
    }
    // persistent ids other than storages
    const pid = new PickleWriter()
      .proto(2)
      .mark()
      .str('module')
      .str('x')
      .tuple()
      .binpersid()
      .stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(pid.bytes())), 'persistent ids');
    // a text-protocol opcode a state_dict never uses
    expectRefused(
      () => parseTorchCheckpoint(withPickle(Uint8Array.from([0x80, 2, 0x49, 0x31, 0x0a, 0x2e]))),
      'opcode 0x49',
    );
  });

  it('refuses a rebuild call with arguments of the wrong types', () => {
    const p = new PickleWriter()
      .proto(2)
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark()
      .str('not a storage')
      .int(0)
      .ints([1])
      .ints([1])
      .bool(false)
      .orderedDict()
      .tuple()
      .reduce()
      .stop();
    expectRefused(() => parseTorchCheckpoint(withPickle(p.bytes())), '_rebuild_tensor_v2 call');
  });
});

describe('parseTorchCheckpoint refuses broken files', () => {
  const good = writeTorchZip({
    a: { shape: [64], data: Array.from({ length: 64 }, (_, i) => i) },
    b: { shape: [3], data: [1, 2, 3] },
  });

  it('refuses truncated archives at every cut', () => {
    for (const cut of [0, 3, 10, 100, good.length >> 1, good.length - 30, good.length - 1]) {
      expect(() => parseTorchCheckpoint(good.subarray(0, cut), { source: 'cut.pt' })).toThrow(
        /readTorchCheckpoint: (cut\.pt: )?expected/,
      );
    }
  });

  it('refuses a corrupted storage byte (CRC-32), a corrupted pickle and a truncated pickle', () => {
    const sd = parseTorchCheckpoint(good);
    const offset = sd.tensors.get('a')!.bytes.byteOffset - good.byteOffset + 17;
    const bad = good.slice();
    bad[offset] = (bad[offset] as number) ^ 0x40;
    expectRefused(() => parseTorchCheckpoint(bad), 'archive/data/0', 'CRC-32', 'corrupted');
    // without CRC checks, the same value comes back changed (the check is what catches it)
    const unchecked = parseTorchCheckpoint(bad, { verifyCrc: false });
    expect(decodeSafetensor(unchecked.tensors.get('a')!)[4]).not.toBe(4);
    const p = new PickleWriter().proto(2).orderedDict().stop().bytes();
    expectRefused(() => parseTorchCheckpoint(withPickle(p.subarray(0, p.length - 1))), 'truncated');
    expectRefused(
      () => parseTorchCheckpoint(withPickle(Uint8Array.from([0x80, 2, 0x7d, 0x71]))),
      'truncated',
    );
  });

  it('refuses a storage shorter than its tensor, an archive without data.pkl, and other formats', () => {
    const short = new PickleWriter().proto(2).orderedDict().mark().str('w');
    short.global('torch._utils', '_rebuild_tensor_v2').mark();
    short.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1);
    short.tuple().binpersid().int(0).ints([2]).ints([1]).bool(false).orderedDict().tuple();
    short.reduce().setitems().stop();
    expectRefused(
      () => parseTorchCheckpoint(withPickle(short.bytes())),
      'tensor "w"',
      'inside its storage of 1 elements',
    );
    const noPickle = zipStored([{ name: 'x/other.txt', data: new Uint8Array(3) }]);
    expectRefused(() => parseTorchCheckpoint(noPickle), 'one <name>/data.pkl');
    expectRefused(
      () => parseTorchCheckpoint(new TextEncoder().encode('hello world')),
      'a zip archive',
    );
  });
});

describe('parseTorchCheckpoint: the legacy format (PyTorch < 1.6)', () => {
  const storage = Array.from({ length: 12 }, (_, i) => i - 5.5);
  const dict = {
    'module.w': { shape: [3, 4], data: storage },
    'module.t': {
      shape: [4, 3],
      view: { storage, offset: 0, stride: [1, 4] },
      shareStorageWith: 'module.w',
    },
    'module.h': { dtype: 'F16' as const, shape: [2], data: [0.25, -3] },
    'module.n': { dtype: 'I64' as const, shape: [], data: [9] },
  };

  it('reads the same tensors as the zip format, wrapped or not', () => {
    for (const wrapKey of [undefined, 'state_dict']) {
      const legacy = parseTorchCheckpoint(writeTorchLegacy(dict, wrapKey ? { wrapKey } : {}));
      const zip = parseTorchCheckpoint(writeTorchZip(dict));
      expect(legacy.format).toBe('pytorch-legacy');
      expect(legacy.stateDictKey).toBe(wrapKey ?? '');
      expect([...legacy.tensors.keys()]).toEqual(Object.keys(dict));
      for (const [name, e] of zip.tensors) {
        const l = legacy.tensors.get(name)!;
        expect([l.dtype, l.shape]).toEqual([e.dtype, e.shape]);
        expect(Array.from(l.bytes)).toEqual(Array.from(e.bytes));
      }
    }
  });

  it('refuses a truncated file and a malicious object pickle', () => {
    const bytes = writeTorchLegacy(dict);
    for (const cut of [20, 60, bytes.length - 9, bytes.length - 1])
      expectRefused(() => parseTorchCheckpoint(bytes.subarray(0, cut)), 'truncated');
    const evil = writeTorchLegacy(dict, {
      pickle: new PickleWriter()
        .proto(2)
        .global('os', 'system')
        .str('id')
        .raw(0x85)
        .reduce()
        .stop()
        .bytes(),
    });
    expectRefused(() => parseTorchCheckpoint(evil), 'got the global os.system; refused');
  });
});

describe('readTorchCheckpoint', () => {
  it('reads a .pt path, a .safetensors file, and names an unreadable path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dh-torch-'));
    const pt = join(dir, 'm.pt');
    await writeFile(pt, writeTorchZip({ 'x.weight': { shape: [2], data: [3, 4] } }));
    const a = await readTorchCheckpoint(pt);
    expect(Array.from(decodeSafetensor(a.tensors.get('x.weight')!))).toEqual([3, 4]);
    const st = join(dir, 'm.safetensors');
    await writeFile(
      st,
      serializeSafetensors(new Map([['x.weight', { dtype: 'F32', shape: [2], data: [5, 6] }]])),
    );
    const b = await readTorchCheckpoint(st);
    expect(b.format).toBe('safetensors');
    expect(Array.from(decodeSafetensor(b.tensors.get('x.weight')!))).toEqual([5, 6]);
    await expect(readTorchCheckpoint(join(dir, 'missing.pt'))).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('missing.pt'),
    });
    const garbage = join(dir, 'bad.pt');
    await writeFile(garbage, 'not a checkpoint');
    await expect(readTorchCheckpoint(garbage)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('bad.pt'),
    });
  });
});
