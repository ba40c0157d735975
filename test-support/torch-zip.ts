/**
 * Writes PyTorch checkpoints in the zip format of `torch.save` (PyTorch ≥ 1.6), written from the
 * format rather than from PyTorch's code, for tests that must not need Python: a zip archive of
 * stored members whose data is aligned to 64 bytes by a padding extra field (id `FB`, as
 * PyTorch's writer does), `<name>/data.pkl` (a protocol-2 pickle of an `OrderedDict` whose values
 * are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
 * calls, each storage a persistent id `('storage', torch.<Type>Storage, key, 'cpu', numel)`),
 * `<name>/data/<key>` (raw storage bytes), `<name>/byteorder` and `<name>/version`; and the legacy
 * format of PyTorch < 1.6 ({@link writeTorchLegacy}). `packages/backbones/scripts/authors_ldn.mjs`
 * checked once that `torch.load` reads both with the values, dtypes and strides written. A test helper shared by relative import; not part of any package.
 */
import { float16Bits } from '@densehybrid/metrics-openiou';
import { crc32 } from '@densehybrid/metrics-openiou/node';

/** Element types the writer supports (safetensors names). */
export type TorchFixtureDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32';

const STORAGE: Readonly<Record<TorchFixtureDtype, [string, number]>> = {
  F32: ['FloatStorage', 4],
  F16: ['HalfStorage', 2],
  BF16: ['BFloat16Storage', 2],
  F64: ['DoubleStorage', 8],
  I64: ['LongStorage', 8],
  I32: ['IntStorage', 4],
};

/**
 * One tensor. By default a contiguous tensor of `data` (C order). With `view`, the tensor is a
 * strided view of a storage holding `view.storage` (e.g. a transpose: the storage in one order,
 * the strides reading it in another).
 */
export interface TorchFixtureTensor {
  readonly dtype?: TorchFixtureDtype;
  readonly shape: readonly number[];
  readonly data?: ArrayLike<number>;
  readonly view?: {
    readonly storage: ArrayLike<number>;
    readonly offset: number;
    readonly stride: readonly number[];
  };
  /** Share the storage of the tensor with this name (its `view.storage` or data). */
  readonly shareStorageWith?: string;
}

/** Options of {@link writeTorchZip}. */
export interface WriteTorchZipOptions {
  /** The archive's top-level folder (PyTorch uses the file's stem or `archive`). @default 'archive' */
  readonly archiveName?: string;
  /** Byte order of the storages and of `byteorder`; `none` writes no `byteorder` (old files). @default 'little' */
  readonly byteorder?: 'little' | 'big' | 'none';
  /** Wrap the state_dict in a dict under this key (`{ key: state_dict, epoch: 3 }`). */
  readonly wrapKey?: string;
  /** Align member data to 64 bytes with padding extra fields. @default true */
  readonly align?: boolean;
  /** Replace `data.pkl` with these bytes (for malicious pickles). */
  readonly pickle?: Uint8Array;
}

/** Writes a zip archive of stored members. */
export function zipStored(
  members: readonly { readonly name: string; readonly data: Uint8Array }[],
  align = true,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const enc = new TextEncoder();
  for (const m of members) {
    const name = enc.encode(m.name);
    let pad = 0;
    if (align) {
      const dataStart = offset + 30 + name.length + 4;
      pad = (64 - (dataStart % 64)) % 64;
    }
    const extra = new Uint8Array(align ? 4 + pad : 0);
    if (align) {
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 0x4246, true); // 'FB'
      ev.setUint16(2, pad, true);
      extra.fill(0x5a, 4); // PyTorch pads with 'Z'
    }
    const crc = crc32(m.data);
    const local = new Uint8Array(30 + name.length + extra.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 0, true); // stored
    lv.setUint32(14, crc, true);
    lv.setUint32(18, m.data.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    local.set(name, 30);
    local.set(extra, 30 + name.length);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, m.data.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    chunks.push(local, m.data);
    central.push(c);
    offset += local.length + m.data.length;
  }
  const dirSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const all = [...chunks, ...central, eocd];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of all) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** A protocol-2 pickle writer: opcodes as methods, bytes at the end. */
export class PickleWriter {
  private readonly parts: number[] = [];
  private memo = 0;

  private u32(n: number): void {
    this.parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }

  /** Raw opcode bytes. */
  raw(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  mark(): this {
    return this.raw(0x28);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  global(module: string, name: string): this {
    this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    return this.put();
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.raw(0x58);
    this.u32(b.length);
    this.raw(...b);
    return this.put();
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >>> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.raw(0x4a);
      this.u32(n >>> 0);
      return this;
    }
    // LONG1 with 8 bytes, two's complement little-endian
    let v = BigInt.asUintN(64, BigInt(n));
    const b: number[] = [];
    for (let i = 0; i < 8; i++, v >>= 8n) b.push(Number(v & 0xffn));
    return this.raw(0x8a, 8, ...b);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  none(): this {
    return this.raw(0x4e);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.raw(0x47, ...b);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  tuple(): this {
    this.raw(0x74);
    return this.put();
  }
  emptyDict(): this {
    this.raw(0x7d);
    return this.put();
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    this.raw(0x52);
    return this.put();
  }
  build(): this {
    return this.raw(0x62);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  /** BINPUT / LONG_BINPUT of the top of the stack, as Python's pickler memoises. */
  put(): this {
    const k = this.memo++;
    if (k < 256) return this.raw(0x71, k);
    this.raw(0x72);
    this.u32(k);
    return this;
  }
  /** `tuple(ints)`. */
  ints(values: readonly number[]): this {
    if (values.length === 0) return this.emptyTuple();
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  /** `collections.OrderedDict()`. */
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').emptyTuple().reduce();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function encodeStorage(
  dtype: TorchFixtureDtype,
  values: ArrayLike<number>,
  bigEndian: boolean,
): Uint8Array {
  const [, size] = STORAGE[dtype];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  const le = !bigEndian;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    const o = i * size;
    switch (dtype) {
      case 'F32':
        v.setFloat32(o, x, le);
        break;
      case 'F64':
        v.setFloat64(o, x, le);
        break;
      case 'F16':
        v.setUint16(o, float16Bits(x), le);
        break;
      case 'BF16': {
        const f = new DataView(new ArrayBuffer(4));
        f.setFloat32(0, x);
        v.setUint16(o, f.getUint16(0), le); // truncation: tests pick bf16-exact values
        break;
      }
      case 'I64':
        v.setBigInt64(o, BigInt(x), le);
        break;
      case 'I32':
        v.setInt32(o, x, le);
        break;
    }
  }
  return out;
}

/** The object pickle of a state_dict and its storages (zip: 5-element persistent ids, legacy: 6). */
function stateDictPickle(
  stateDict: Readonly<Record<string, TorchFixtureTensor>>,
  options: WriteTorchZipOptions,
  legacy: boolean,
): { pickle: Uint8Array; storages: { key: string; numel: number; data: Uint8Array }[] } {
  const order = options.byteorder ?? 'little';
  const w = new PickleWriter().proto(2);
  const wrap = options.wrapKey;
  if (wrap !== undefined) {
    w.emptyDict().mark().str(wrap);
  }
  w.orderedDict().mark();
  const storages: { key: string; numel: number; data: Uint8Array }[] = [];
  const keyOf = new Map<string, string>();
  for (const [k, t] of Object.entries(stateDict)) {
    const dtype = t.dtype ?? 'F32';
    const [storageName] = STORAGE[dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    let values: ArrayLike<number>;
    let offset = 0;
    let stride: number[] = [];
    for (let i = t.shape.length - 1, s = 1; i >= 0; i--) {
      stride[i] = s;
      s *= t.shape[i] as number;
    }
    if (t.view) {
      values = t.view.storage;
      offset = t.view.offset;
      stride = [...t.view.stride];
    } else {
      values = t.data ?? [];
      if (values.length !== numel) throw new Error(`${k}: ${values.length} values for ${numel}`);
    }
    let key: string;
    let storageNumel = values.length;
    const shared = t.shareStorageWith === undefined ? undefined : keyOf.get(t.shareStorageWith);
    if (shared !== undefined) {
      key = shared;
      const src = stateDict[t.shareStorageWith as string] as TorchFixtureTensor;
      storageNumel = (src.view?.storage ?? src.data ?? []).length;
    } else {
      // legacy keys are the storages' ids; any distinct strings do
      key = legacy ? String(94000000 + storages.length) : String(storages.length);
      storages.push({
        key,
        numel: values.length,
        data: encodeStorage(dtype, values, order === 'big'),
      });
    }
    keyOf.set(k, key);
    w.str(k);
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.mark();
    w.mark().str('storage').global('torch', storageName).str(key).str('cpu').int(storageNumel);
    if (legacy) w.none();
    w.tuple().binpersid().put();
    w.int(offset).ints(t.shape).ints(stride).bool(false).orderedDict();
    w.tuple().reduce();
  }
  w.setitems();
  // state_dict()'s `_metadata` attribute: BUILD with {'_metadata': OrderedDict(...)}
  w.emptyDict().str('_metadata').orderedDict().mark().str('').emptyDict();
  w.mark().str('version').int(1).setitems().setitems().raw(0x73).build();
  if (wrap !== undefined) {
    w.str('epoch').int(3).setitems();
  }
  w.stop();
  return { pickle: options.pickle ?? w.bytes(), storages };
}

/**
 * A `torch.save(state_dict)` file: an OrderedDict of tensors in the order given.
 *
 * @example
 * ```ts
 * const bytes = writeTorchZip({ 'conv.weight': { shape: [2, 1, 1, 1], data: [1, 2] } });
 * ```
 */
export function writeTorchZip(
  stateDict: Readonly<Record<string, TorchFixtureTensor>>,
  options: WriteTorchZipOptions = {},
): Uint8Array {
  const name = options.archiveName ?? 'archive';
  const order = options.byteorder ?? 'little';
  const { pickle, storages } = stateDictPickle(stateDict, options, false);
  const members = [
    { name: `${name}/data.pkl`, data: pickle },
    ...(order === 'none'
      ? []
      : [{ name: `${name}/byteorder`, data: new TextEncoder().encode(order) }]),
    ...storages.map((s) => ({ name: `${name}/data/${s.key}`, data: s.data })),
    { name: `${name}/version`, data: new TextEncoder().encode('3\n') },
  ];
  return zipStored(members, options.align ?? true);
}

/**
 * The same state_dict in the legacy format (`torch.save(…, _use_new_zipfile_serialization=False)`,
 * PyTorch < 1.6): pickles of the magic number, the protocol 1001, `sys_info`, the object, the
 * sorted storage keys, then per storage an int64 element count and its little-endian bytes.
 */
export function writeTorchLegacy(
  stateDict: Readonly<Record<string, TorchFixtureTensor>>,
  options: Omit<WriteTorchZipOptions, 'archiveName' | 'byteorder' | 'align'> = {},
): Uint8Array {
  const { pickle, storages } = stateDictPickle(stateDict, options, true);
  const magic = new PickleWriter()
    .proto(2)
    .raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)
    .stop();
  const protocol = new PickleWriter().proto(2).int(1001).stop();
  const info = new PickleWriter().proto(2).emptyDict().mark();
  info.str('protocol_version').int(1001).str('little_endian').bool(true).str('type_sizes');
  info.emptyDict().mark().str('short').int(2).str('int').int(4).str('long').int(4).setitems();
  info.setitems().stop();
  const sorted = [...storages].sort((a, b) => (a.key < b.key ? -1 : 1));
  const keys = new PickleWriter().proto(2).raw(0x5d).put().mark();
  for (const s of sorted) keys.str(s.key);
  keys.raw(0x65).stop();
  const parts: Uint8Array[] = [magic.bytes(), protocol.bytes(), info.bytes(), pickle, keys.bytes()];
  for (const s of sorted) {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(s.numel), true);
    parts.push(n, s.data);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
