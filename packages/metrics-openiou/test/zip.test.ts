import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { crc32, readZip } from '@densehybrid/metrics-openiou/node';

interface Member {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Write sizes and offset as 0xffffffff with a ZIP64 extra field (as NumPy does). */
  zip64?: boolean;
  flags?: number;
  crc?: number;
}

/** A zip archive written from the format (APPNOTE 4.3), independent of the reader. */
function zip(members: Member[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const body = m.deflate ? new Uint8Array(deflateRawSync(m.data)) : m.data;
    const crc = m.crc ?? crc32(m.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(6, m.flags ?? 0, true);
    lv.setUint16(8, m.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = m.zip64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (m.zip64) {
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 1, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(m.data.length), true);
      ev.setBigUint64(12, BigInt(body.length), true);
      ev.setBigUint64(20, BigInt(offset), true);
    }
    const c = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(8, m.flags ?? 0, true);
    cv.setUint16(10, m.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, m.zip64 ? 0xffffffff : body.length, true);
    cv.setUint32(24, m.zip64 ? 0xffffffff : m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(42, m.zip64 ? 0xffffffff : offset, true);
    c.set(name, 46);
    c.set(extra, 46 + name.length);
    parts.push(local, body);
    central.push(c);
    offset += local.length + body.length;
  }
  const size = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, size, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, eocd];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of all) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);

function expectInvalid(f: () => unknown, ...parts: string[]): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(DenseHybridError.is(error) && (error as DenseHybridError).code).toBe('INVALID_INPUT');
  for (const p of parts) expect((error as Error).message).toContain(p);
}

describe('readZip', () => {
  it('reads stored, deflated and ZIP64 members (stored ones as views)', () => {
    const big = new Uint8Array(5000).map((_, i) => (i * 31) % 251);
    const bytes = zip([
      { name: 'a/x.txt', data: text('hello') },
      { name: 'b.bin', data: big, deflate: true },
      { name: 'c.npy', data: text('zip64 member'), zip64: true },
      { name: 'empty', data: new Uint8Array(0) },
    ]);
    const z = readZip(bytes, { source: 't.zip' });
    expect([...z.entries.keys()]).toEqual(['a/x.txt', 'b.bin', 'c.npy', 'empty']);
    const a = z.read('a/x.txt');
    expect(new TextDecoder().decode(a)).toBe('hello');
    expect(a.buffer).toBe(bytes.buffer); // a view, no copy
    expect(Array.from(z.read('b.bin'))).toEqual(Array.from(big));
    expect(z.entries.get('b.bin')!.method).toBe(8);
    expect(new TextDecoder().decode(z.read('c.npy'))).toBe('zip64 member');
    expect(z.read('empty').length).toBe(0);
  });

  it('checks CRC-32 (a changed byte is refused; CRC 0 means "not computed")', () => {
    const bytes = zip([{ name: 'm', data: text('0123456789') }]);
    const bad = bytes.slice();
    bad[30 + 1 + 3] = 0x41; // a byte of the member's data
    expectInvalid(
      () => readZip(bad, { source: 'c.zip' }).read('m'),
      'c.zip',
      'CRC-32',
      'corrupted',
    );
    expect(new TextDecoder().decode(readZip(bad, { verifyCrc: false }).read('m'))).toBe(
      '012A456789',
    );
    const noCrc = zip([{ name: 'm', data: text('abc'), crc: 0 }]);
    expect(new TextDecoder().decode(readZip(noCrc).read('m'))).toBe('abc');
    expect(crc32(text('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('refuses truncated archives, missing, duplicate and encrypted members, with fn and source', () => {
    const bytes = zip([
      { name: 'one', data: text('1111111111') },
      { name: 'two', data: text('2222') },
    ]);
    for (const cut of [0, 10, 40, bytes.length - 30, bytes.length - 1]) {
      expectInvalid(
        () =>
          readZip(bytes.subarray(0, cut), {
            fn: 'f',
            source: 's.zip',
            expected: 'an archive',
          }).read('one'),
        'f: s.zip: expected an archive, got',
      );
    }
    expectInvalid(() => readZip(bytes).read('three'), 'no three among one, two');
    expectInvalid(
      () =>
        readZip(
          zip([
            { name: 'x', data: text('a') },
            { name: 'x', data: text('b') },
          ]),
        ),
      'the member x twice',
    );
    expectInvalid(
      () => readZip(zip([{ name: 'x', data: text('a'), flags: 1 }])),
      'an encrypted member x',
    );
  });
});
