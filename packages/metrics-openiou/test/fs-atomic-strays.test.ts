/**
 * What killed writers leave beside an atomic write's target (`.NAME.tmp-<pid>-<hex>`,
 * `.NAME.old-<pid>-<hex>`) is removed by the next write of that target, and nothing else is.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDirectoryAtomic, writeFileAtomic } from '@densehybrid/metrics-openiou/node';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-strays-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

/** The pid of a process that has exited (as a `kill -9`ed writer's). */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid as number;
};

async function leftover(path: string, isDir: boolean): Promise<void> {
  if (isDir) {
    await mkdir(path);
    await writeFile(join(path, 'variables.safetensors'), 'half');
  } else await writeFile(path, 'half');
}

describe('stray temporary siblings', () => {
  it('a folder write removes the .tmp-/.old- folders of dead writers of that target only', async () => {
    const parent = join(root, 'dir');
    await mkdir(parent);
    const dead = deadPid();
    const alive = process.ppid; // a running process that is not this one
    const stray = [
      `.state.tmp-${dead}-0a1b2c3d`, // a kill during the write
      `.state.old-${dead}-0a1b2c3e`, // a kill between the two renames
      `.state.tmp-${process.pid}-0a1b2c3f`, // this pid, but no write of this process: a reused pid
    ];
    const kept = [
      `.state.tmp-${alive}-0a1b2c40`, // a live writer elsewhere
      `.other.tmp-${dead}-0a1b2c41`, // another target
      `.state.tmp-notes`, // not our naming
      `.state.tmp-${dead}-xyz`, // not our naming
      'state.tmp-1-0a1b2c42', // not hidden: not ours
    ];
    for (const name of [...stray, ...kept]) await leftover(join(parent, name), true);
    // A live writer's sibling older than a day is stray too (its pid belongs to someone else now).
    const ancient = `.state.tmp-${alive}-0a1b2c43`;
    await leftover(join(parent, ancient), true);
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(join(parent, ancient), dayAgo, dayAgo);

    await writeDirectoryAtomic('save', join(parent, 'state'), (tmp) =>
      writeFile(join(tmp, 'a.json'), '1'),
    );
    expect((await readdir(parent)).sort()).toEqual(['state', ...kept].sort());
    expect(await readFile(join(parent, 'state', 'a.json'), 'utf8')).toBe('1');
  });

  it('keeps the previous copy renamed aside until the new folder is in place', async () => {
    const parent = join(root, 'recover');
    await mkdir(parent);
    // Killed between the renames: only the old copy exists.
    const old = join(parent, `.ck.old-${deadPid()}-0a1b2c3d`);
    await mkdir(old);
    await writeFile(join(old, 'a.json'), 'old');
    const error = await writeDirectoryAtomic('save', join(parent, 'ck'), () =>
      Promise.reject(new Error('disk full')),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^save: expected to write the directory .*disk full/);
    expect(await readdir(parent)).toEqual([old.slice(parent.length + 1)]);
    await writeDirectoryAtomic('save', join(parent, 'ck'), (tmp) =>
      writeFile(join(tmp, 'a.json'), 'new'),
    );
    expect(await readdir(parent)).toEqual(['ck']);
  });

  it("does not touch a concurrent write's folder in the same process", async () => {
    const parent = join(root, 'concurrent');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFill = new Promise<void>((r) => (entered = r));
    const slow = writeDirectoryAtomic('save', join(parent, 'ck'), async (tmp) => {
      await writeFile(join(tmp, 'a.json'), 'slow');
      entered();
      await gate;
    });
    await inFill;
    await writeDirectoryAtomic('save', join(parent, 'ck'), (tmp) =>
      writeFile(join(tmp, 'a.json'), 'fast'),
    );
    release();
    await slow;
    expect(await readFile(join(parent, 'ck', 'a.json'), 'utf8')).toBe('slow');
    expect(await readdir(parent)).toEqual(['ck']);
  });

  it('a file write removes the .tmp- files of dead writers of that file only', async () => {
    const parent = join(root, 'files');
    await mkdir(parent);
    const dead = deadPid();
    await leftover(join(parent, `.img0.npy.tmp-${dead}-0a1b2c3d`), false);
    await leftover(join(parent, `.img0.npy.tmp-${process.pid}-0a1b2c3e`), false);
    await leftover(join(parent, `.img1.npy.tmp-${dead}-0a1b2c3f`), false);
    await writeFileAtomic(join(parent, 'img0.npy'), 'x');
    expect((await readdir(parent)).sort()).toEqual([`.img1.npy.tmp-${dead}-0a1b2c3f`, 'img0.npy']);
    await writeFileAtomic(join(parent, 'img1.npy'), 'y');
    expect((await readdir(parent)).sort()).toEqual(['img0.npy', 'img1.npy']);
  });
});
