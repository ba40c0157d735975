/**
 * A minimal WebAssembly assembler: just enough of the binary format to build small SIMD kernels
 * at run time (no toolchain, no binary blobs in the package). Each instruction method appends
 * its encoding; {@link wasmModule} wraps function bodies into a module that imports the caller's
 * memory as `env.memory`.
 * @internal
 */

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;
export const F32 = 0x7d;

function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/** One function body under construction: locals, then instructions. @internal */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly extraLocals: number[] = [];

  constructor(
    readonly params: readonly number[],
    readonly results: readonly number[] = [],
  ) {}

  /** Declares a new local of type `type` and returns its index. */
  local(type: number): number {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  get(i: number): this {
    this.code.push(0x20);
    uleb(this.code, i);
    return this;
  }
  set(i: number): this {
    this.code.push(0x21);
    uleb(this.code, i);
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22);
    uleb(this.code, i);
    return this;
  }
  i32(value: number): this {
    this.code.push(0x41);
    sleb(this.code, value);
    return this;
  }
  add(): this {
    this.code.push(0x6a);
    return this;
  }
  sub(): this {
    this.code.push(0x6b);
    return this;
  }
  mul(): this {
    this.code.push(0x6c);
    return this;
  }
  ltU(): this {
    this.code.push(0x49);
    return this;
  }
  /** `block` … `end` with no result. */
  block(body: () => void): this {
    this.code.push(0x02, 0x40);
    body();
    this.code.push(0x0b);
    return this;
  }
  /** `loop` … `end` with no result. */
  loop(body: () => void): this {
    this.code.push(0x03, 0x40);
    body();
    this.code.push(0x0b);
    return this;
  }
  brIf(depth: number): this {
    this.code.push(0x0d);
    uleb(this.code, depth);
    return this;
  }
  eqz(): this {
    this.code.push(0x45);
    return this;
  }
  /** Any SIMD instruction without immediates, by its opcode after the 0xFD prefix. */
  simd(op: number): this {
    this.code.push(0xfd);
    uleb(this.code, op);
    return this;
  }
  /** Any one-byte instruction without immediates (e.g. 0x74 i32.shl). */
  op(byte: number): this {
    this.code.push(byte);
    return this;
  }
  /** f32x4.extract_lane `lane`. */
  extractLane(lane: number): this {
    this.simd(0x1f);
    this.code.push(lane);
    return this;
  }
  /** v128.const with four float32 lanes. */
  f32x4Const(a: number, b = a, c = a, d = a): this {
    this.simd(0x0c);
    const bytes = new Uint8Array(Float32Array.from([a, b, c, d]).buffer);
    for (const v of bytes) this.code.push(v);
    return this;
  }
  /** f32.store: [address, value] on the stack. */
  f32Store(offset = 0): this {
    this.code.push(0x38);
    this.memarg(offset);
    return this;
  }
  /** memory.copy (bulk memory): [dst, src, bytes] on the stack. */
  memoryCopy(): this {
    this.code.push(0xfc);
    uleb(this.code, 10);
    this.code.push(0x00, 0x00);
    return this;
  }
  private memarg(offset: number): void {
    uleb(this.code, 2); // alignment hint: 4 bytes (float32 data)
    uleb(this.code, offset);
  }
  /** v128.load at (address on the stack) + offset. */
  load(offset = 0): this {
    this.simd(0x00);
    this.memarg(offset);
    return this;
  }
  /** v128.load32_splat: one float broadcast to four lanes. */
  loadSplat(offset = 0): this {
    this.simd(0x09);
    this.memarg(offset);
    return this;
  }
  /** v128.store: [address, value] on the stack. */
  store(offset = 0): this {
    this.simd(0x0b);
    this.memarg(offset);
    return this;
  }
  /** v128.const 0 */
  v128Zero(): this {
    this.simd(0x0c);
    for (let k = 0; k < 16; k++) this.code.push(0);
    return this;
  }
  /**
   * `acc += a · b` on `f32x4` locals: one `f32x4.relaxed_madd` (fused multiply-add where the
   * CPU has it) when `fused`, else `f32x4.mul` + `f32x4.add`.
   */
  mulAdd(acc: number, a: number, b: number, fused: boolean): this {
    if (fused) return this.get(a).get(b).get(acc).simd(0x105).set(acc);
    return this.get(acc).get(a).get(b).f32x4Mul().f32x4Add().set(acc);
  }
  f32x4Add(): this {
    this.simd(0xe4);
    return this;
  }
  f32x4Mul(): this {
    this.simd(0xe6);
    return this;
  }

  /** The body's encoding (locals, code, `end`), size-prefixed. */
  encode(): number[] {
    const body: number[] = [];
    uleb(body, this.extraLocals.length);
    for (const t of this.extraLocals) {
      uleb(body, 1);
      body.push(t);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    out.push(...body);
    return out;
  }
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  out.push(...content);
}

/**
 * A module importing `env.memory` (any size; shared — threads — with `sharedMemory`) and
 * exporting `functions` by name.
 * @internal
 */
export function wasmModule(
  functions: Record<string, FunctionBuilder>,
  options: { readonly sharedMemory?: boolean } = {},
): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(types, entries.length);
  for (const [, f] of entries) {
    types.push(0x60);
    uleb(types, f.params.length);
    types.push(...f.params);
    uleb(types, f.results.length);
    types.push(...f.results);
  }
  section(out, 1, types);
  const imports: number[] = [1];
  name(imports, 'env');
  name(imports, 'memory');
  if (options.sharedMemory) {
    imports.push(0x02, 0x03, 0x00); // memory, limits: shared, min 0, max 65536 pages (4 GiB)
    uleb(imports, 65536);
  } else imports.push(0x02, 0x00, 0x00); // memory, limits: min 0, no max
  section(out, 2, imports);
  const funcs: number[] = [];
  uleb(funcs, entries.length);
  entries.forEach((_, i) => uleb(funcs, i));
  section(out, 3, funcs);
  const exports: number[] = [];
  uleb(exports, entries.length);
  entries.forEach(([n], i) => {
    name(exports, n);
    exports.push(0x00);
    uleb(exports, i);
  });
  section(out, 7, exports);
  const code: number[] = [];
  uleb(code, entries.length);
  for (const [, f] of entries) code.push(...f.encode());
  section(out, 10, code);
  return new Uint8Array(out);
}

/** One-byte opcodes (for {@link FunctionBuilder.op}). @internal */
export const Op = {
  i32GeU: 0x4f,
  i32And: 0x71,
} as const;

/** SIMD opcodes after the 0xFD prefix (for {@link FunctionBuilder.simd}). @internal */
export const SimdOp = {
  f32x4Splat: 0x13,
  f32x4Floor: 0x68,
  i32x4Shl: 0xab,
  i32x4ShrS: 0xac,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Sqrt: 0xe3,
  f32x4Div: 0xe7,
  /** `b < a ? b : a` (x86 `minps`; NaN in `a` propagates, NaN in `b` does not). */
  f32x4Pmin: 0xea,
  /** `a < b ? b : a` (x86 `maxps`; NaN in `a` propagates, NaN in `b` does not). */
  f32x4Pmax: 0xeb,
} as const;
