/** Dependency-free base64 of typed-array bytes (little-endian, as every supported platform). @internal */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const ASCII = new TextDecoder(); // UTF-8: the ASCII codes decode as they are

/**
 * base64 of the bytes: written as ASCII codes into one byte array and decoded to a string once
 * (one flat one-byte string; appending characters one by one would build a rope of ~32 bytes
 * per character first).
 */
export function encodeBase64(view: ArrayBufferView): string {
  const b = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const n = b.length;
  const out = new Uint8Array(4 * Math.ceil(n / 3));
  let o = 0;
  const whole = n - (n % 3);
  for (let i = 0; i < whole; i += 3) {
    const x = ((b[i] as number) << 16) | ((b[i + 1] as number) << 8) | (b[i + 2] as number);
    out[o++] = CODES[(x >>> 18) & 63] as number;
    out[o++] = CODES[(x >>> 12) & 63] as number;
    out[o++] = CODES[(x >>> 6) & 63] as number;
    out[o++] = CODES[x & 63] as number;
  }
  if (whole < n) {
    const x = ((b[whole] as number) << 16) | ((b[whole + 1] ?? 0) << 8);
    out[o++] = CODES[(x >>> 18) & 63] as number;
    out[o++] = CODES[(x >>> 12) & 63] as number;
    out[o++] = whole + 1 < n ? (CODES[(x >>> 6) & 63] as number) : 61;
    out[o++] = 61;
  }
  return ASCII.decode(out);
}

/** Decodes base64; returns null on malformed input. */
export function decodeBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let x = 0;
    for (let k = 0; k < 4; k++) {
      const c = s.charCodeAt(i + k);
      const v = c === 61 && i + k >= s.length - pad ? 0 : c < 128 ? (LOOKUP[c] as number) : -1;
      if (v < 0) return null;
      x = (x << 6) | v;
    }
    if (o < out.length) out[o++] = (x >>> 16) & 255;
    if (o < out.length) out[o++] = (x >>> 8) & 255;
    if (o < out.length) out[o++] = x & 255;
  }
  return out;
}
