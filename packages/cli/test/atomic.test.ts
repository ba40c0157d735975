import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStagedDir, writeFileAtomic } from '@densehybrid/cli';
import { tempDir } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

describe('writeFileAtomic', () => {
  it('replaces a file and leaves no temporary file', async () => {
    const p = join(tmp.dir, 'a', 'b.txt');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, 'two');
    expect(await readFile(p, 'utf8')).toBe('two');
    expect(await readdir(join(tmp.dir, 'a'))).toEqual(['b.txt']);
  });

  it('names the path when it cannot write', async () => {
    await writeFile(join(tmp.dir, 'file'), 'x');
    await expect(writeFileAtomic(join(tmp.dir, 'file', 'sub.txt'), 'y')).rejects.toThrow(
      /writeFileAtomic: expected to write .*file\/sub\.txt, got/,
    );
  });
});

describe('openStagedDir', () => {
  it('publishes the staged files, keeps untouched old files and replaces rewritten ones', async () => {
    const out = join(tmp.dir, 'out1');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    await writeFile(join(out, 'metrics.json'), 'stale');
    const staged = await openStagedDir(out);
    expect(staged.dir).toBe(`${out}.partial`);
    await writeFile(join(staged.dir, 'metrics.json'), 'fresh');
    // nothing visible in out before commit
    expect(await readFile(join(out, 'metrics.json'), 'utf8')).toBe('stale');
    await staged.commit();
    expect(await readFile(join(out, 'metrics.json'), 'utf8')).toBe('fresh');
    expect(await readFile(join(out, 'old.txt'), 'utf8')).toBe('old');
    expect((await readdir(tmp.dir)).filter((n) => n.startsWith('out1'))).toEqual(['out1']);
  });

  it('resumes an interrupted staging folder unless told not to', async () => {
    const out = join(tmp.dir, 'out2');
    const first = await openStagedDir(out);
    await writeFile(join(first.dir, 'done.txt'), '1');
    const again = await openStagedDir(out);
    expect(again.resumed).toBe(true);
    expect(await readdir(again.dir)).toEqual(['done.txt']);
    const fresh = await openStagedDir(out, { resume: false });
    expect(fresh.resumed).toBe(false);
    expect(await readdir(fresh.dir)).toEqual([]);
  });

  it('repairs a crash between the two renames of a commit', async () => {
    const out = join(tmp.dir, 'out3');
    await mkdir(out);
    await writeFile(join(out, 'x.txt'), 'kept');
    // simulate: out was renamed aside, then the process died
    await rename(out, `${out}.previous`);
    const staged = await openStagedDir(out);
    expect(await readFile(join(out, 'x.txt'), 'utf8')).toBe('kept');
    await staged.discard();
    expect((await readdir(tmp.dir)).filter((n) => n.startsWith('out3'))).toEqual(['out3']);
  });
});
