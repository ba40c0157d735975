// The run-time WebAssembly assembler and heap access behind the SIMD kernels.
import { describe, expect, it } from 'vitest';
import { FunctionBuilder, I32, wasmModule } from '../src/kernels/simd/wasm_asm.js';
import { heapAccess } from '../src/kernels/simd/heap.js';

/** The WebAssembly JS API (this project compiles without DOM types). */
interface Memory {
  readonly buffer: ArrayBuffer;
}
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => Memory;
      Module: new (bytes: Uint8Array) => object;
      Instance: new (m: object, imports: object) => { exports: object };
      validate(bytes: Uint8Array): boolean;
    };
  }
).WebAssembly;

/** Instantiates `functions` over a fresh 1-page memory. */
function instantiate(functions: Record<string, FunctionBuilder>) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const bytes = wasmModule(functions);
  expect(WebAssembly.validate(bytes)).toBe(true);
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory },
  });
  return { exports: exports as Record<string, (...a: number[]) => number>, memory };
}

describe('wasm assembler', () => {
  it.each([0, 1, 63, 64, -64, -65, 127, 128, 8191, -8193, 2 ** 20, -(2 ** 31), 2 ** 31 - 1])(
    'encodes the i32 constant %i (signed LEB128)',
    (value) => {
      const f = new FunctionBuilder([], [I32]);
      f.i32(value);
      expect(instantiate({ f }).exports['f']?.()).toBe(value);
    },
  );

  it('loops, locals and f32x4 arithmetic: a SIMD dot product over memory', () => {
    // dot(x, y, n4): Σ x[i]·y[i] over n4 vectors, lanes summed in JS via a store
    const f = new FunctionBuilder([I32, I32, I32, I32]);
    const acc = f.local(0x7b);
    f.loop(() => {
      f.get(0).load(0).get(1).load(0).f32x4Mul().get(acc).f32x4Add().set(acc);
      f.get(0).i32(16).add().set(0);
      f.get(1).i32(16).add().set(1);
      f.get(2).i32(1).sub().tee(2).brIf(0);
    });
    f.get(3).get(acc).store(0);
    const { exports, memory } = instantiate({ dot: f });
    const view = new Float32Array(memory.buffer);
    for (let i = 0; i < 16; i++) {
      view[i] = i + 1; // x at byte 0
      view[16 + i] = 0.5 * (i % 3); // y at byte 64
    }
    exports['dot']?.(0, 64, 4, 256);
    const lanes = view.subarray(64, 68).reduce((a, b) => a + b, 0);
    let expected = 0;
    for (let i = 0; i < 16; i++) expected += (i + 1) * 0.5 * (i % 3);
    expect(lanes).toBe(expected);
  });
});

describe('heapAccess', () => {
  it('reaches an unshared wasm memory and stands aside for a shared one (threaded builds)', () => {
    const backend = (memory: Memory) => ({
      wasm: { asm: { memory } },
      dataIdMap: new Map([[{}, { memoryOffset: 64 }]]),
    });
    expect(heapAccess(backend(new WebAssembly.Memory({ initial: 1 })))).not.toBeNull();
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    expect(heapAccess(backend(shared))).toBeNull();
    expect(heapAccess({})).toBeNull();
  });
});
