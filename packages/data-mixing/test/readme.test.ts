import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cycle, writeGrey, writeImage } from './fixtures.js';

const execFileP = promisify(execFile);
const pkg = fileURLToPath(new URL('..', import.meta.url));
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-readme-'));
  for (let i = 0; i < 3; i++) {
    const stem = `aachen_00000${i}_000019`;
    await writeImage(join(root, `cs/leftImg8bit/train/aachen/${stem}_leftImg8bit.png`), 96, 48, i);
    await writeGrey(
      join(root, `cs/gtFine/train/aachen/${stem}_gtFine_labelIds.png`),
      96,
      48,
      cycle(96, 48, [7, 8, 26]),
    );
  }
  for (let i = 0; i < 2; i++) {
    await writeImage(
      join(root, `ADEChallengeData2016/images/training/ADE_train_${i}.jpg`),
      40,
      30,
      9 + i,
      'jpeg',
    );
    await writeGrey(
      join(root, `ADEChallengeData2016/annotations/training/ADE_train_${i}.png`),
      40,
      30,
      cycle(40, 30, [0, 4, 12]),
    );
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

it('runs the README example', async () => {
  const readme = await readFile(join(pkg, 'README.md'), 'utf8');
  const code = /## Example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  expect(code!.trim().split('\n').length).toBeLessThanOrEqual(20);
  // inside the package folder so that '@densehybrid/data-mixing' resolves to this package
  const file = join(pkg, `.readme-example-${process.pid}.mjs`);
  await writeFile(file, code!);
  try {
    const { stdout } = await execFileP(process.execPath, [file], {
      cwd: pkg,
      env: { ...process.env, CITYSCAPES: join(root, 'cs'), ADE20K: root },
      timeout: 30_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('2 [ 2, 64, 64, 3 ] true'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('1 [ 1, 64, 64, 3 ] true'))).toHaveLength(1);
    expect(lines.at(-1)).toBe('skipped 0');
  } finally {
    await rm(file, { force: true });
  }
});
