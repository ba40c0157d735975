import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openStagedDir,
  readNpy,
  recoverDirectory,
  writeDirectoryAtomic,
  writeFileAtomic,
  writeFileSynced,
  writeNpy,
} from '@densehybrid/metrics-openiou/node';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dh-metrics-node-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces a file with a string or bytes and leaves no temporary file', async () => {
    const p = join(dir, 'a', 'b.txt');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, 'two');
    expect(await readFile(p, 'utf8')).toBe('two');
    await writeFileAtomic('caller', p, new TextEncoder().encode('three'));
    expect(await readFile(p, 'utf8')).toBe('three');
    expect(await readdir(join(dir, 'a'))).toEqual(['b.txt']);
  });

  it('names the caller and the path when it cannot write', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(writeFileAtomic(join(dir, 'file', 'sub.txt'), 'y')).rejects.toThrow(
      /^writeFileAtomic: expected to write ".*file\/sub\.txt", got /,
    );
    await expect(writeFileAtomic('saveThing', join(dir, 'file', 'sub.txt'), 'y')).rejects.toThrow(
      /^saveThing: expected to write/,
    );
  });
});

describe('writeDirectoryAtomic / recoverDirectory', () => {
  it('replaces a folder whole and finds a folder left aside by a crash', async () => {
    const out = join(dir, 'ckpt');
    await writeDirectoryAtomic('save', out, (tmp) => writeFileSynced(join(tmp, 'meta.json'), '1'));
    await writeDirectoryAtomic('save', out, (tmp) => writeFileSynced(join(tmp, 'meta.json'), '2'));
    expect(await readFile(join(out, 'meta.json'), 'utf8')).toBe('2');
    expect((await readdir(dir)).filter((n) => n.includes('ckpt'))).toEqual(['ckpt']);
    await rename(out, join(dir, '.ckpt.old-1-x')); // a crash between the two renames
    expect(await recoverDirectory(out, 'meta.json')).toBe(join(dir, '.ckpt.old-1-x'));
    expect(await recoverDirectory(out, 'missing.json')).toBeUndefined();
  });
});

describe('openStagedDir', () => {
  it('publishes the staged files, keeps untouched old files and replaces rewritten ones', async () => {
    const out = join(dir, 'out1');
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
    expect((await readdir(dir)).filter((n) => n.startsWith('out1'))).toEqual(['out1']);
  });

  it('resumes an interrupted staging folder unless told not to', async () => {
    const out = join(dir, 'out2');
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
    const out = join(dir, 'out3');
    await mkdir(out);
    await writeFile(join(out, 'x.txt'), 'kept');
    // simulate: out was renamed aside, then the process died
    await rename(out, `${out}.previous`);
    const staged = await openStagedDir(out);
    expect(await readFile(join(out, 'x.txt'), 'utf8')).toBe('kept');
    await staged.discard();
    expect((await readdir(dir)).filter((n) => n.startsWith('out3'))).toEqual(['out3']);
  });
});

describe('readNpy / writeNpy', () => {
  it('writes float16 by default, reads it back, and names an unreadable file', async () => {
    const path = join(dir, 'maps', 'scores.npy');
    await writeNpy(path, Float32Array.of(0.5, -2, 1 / 3, 7), [2, 2]);
    const back = await readNpy(path);
    expect([back.dtype, ...back.shape]).toEqual(['<f2', 2, 2]);
    expect(Array.from(back.data)).toEqual([0.5, -2, 0.333251953125, 7]);
    await expect(readNpy(join(dir, 'none.npy'))).rejects.toThrow(
      /readNpy: expected a readable file at .*none\.npy, got ENOENT/,
    );
  });
});
