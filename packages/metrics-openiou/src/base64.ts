/** Dependency-free base64 of typed-array bytes (little-endian, as every supported platform). @internal */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export function encodeBase64(view: ArrayBufferView): string {
  const b = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const parts: string[] = [];
  const CHUNK = 3 * 8192;
  for (let start = 0; start < b.length; start += CHUNK) {
    const end = Math.min(b.length, start + CHUNK);
    let s = '';
    for (let i = start; i < end; i += 3) {
      const x = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
      s += ALPHABET[(x >>> 18) & 63] as string;
      s += ALPHABET[(x >>> 12) & 63] as string;
      s += i + 1 < end ? (ALPHABET[(x >>> 6) & 63] as string) : '=';
      s += i + 2 < end ? (ALPHABET[x & 63] as string) : '=';
    }
    parts.push(s);
  }
  return parts.join('');
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
