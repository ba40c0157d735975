#!/usr/bin/env node
// Runs the shell commands of the READMEs (README.md, packages/*/README.md) the way a new user
// would, in a checkout right after `npm ci` (nothing else built or installed), and fails when one
// does not run as written.
//
//   node scripts/readme-commands.mjs              # this checkout (CI: right after `npm ci`)
//   node scripts/readme-commands.mjs --clone      # a fresh `git clone` of HEAD, `npm ci` there
//   node scripts/readme-commands.mjs --clone --worktree   # … plus this working tree's
//                                                 # uncommitted files (to check before a commit)
//
// What "as written" means here, command by command (every command of a README must match one of
// the rules below, or the check fails, so a new README command gets a rule):
// - `npx densehybrid …` and `densehybrid …` (the CLI README assumes `npm install -g`, i.e. the
//   bin on PATH: node_modules/.bin here) run, from a fresh folder per README. npx is not allowed
//   to fetch anything (npm_config_yes=false): a bin that does not resolve locally fails.
// - Benchmark roots `/data/<name>` hold tiny fixtures in the public layouts (StreetHazards,
//   ADE20k), made here with sharp. `/data` is a symlink to them while the check runs when `/`
//   is writable and there is no `/data`; otherwise the commands read them with `/data/` replaced
//   by the fixture folder (said in one line). `street.jpg`, `photos/` and `--config` files (the
//   README's JSON block) are made in the command's folder.
// - `densehybrid train` gets CI-size flags appended (`--backbone tiny --steps 2 --batch-size 1
//   --crop-size 32`; later flags win): the command line, its data layouts and the chain
//   train → eval → calibrate → infer are as written, the training is 2 steps of a tiny network.
// - `densehybrid import <file.pt|.safetensors> …` gets `--arch tiny` appended, and the file is
//   made in the command's folder: a tiny LDN's state_dict as the authors' code saves it (their
//   key names, BN step counters, the 2-way OOD head; K from `--classes`), written by the test
//   fixture generator (test-support/torch-zip.ts, in PyTorch's zip format): the command line and
//   the chain import → infer are as written, the network is tiny.
// - `npm ci` is what this check runs after (--clone) or what CI just ran; `npm run <script>` and
//   `npm test` must name a script of the root package.json (CI runs build, test and the webgpu
//   suite itself; the demo takes minutes). Registry installs (`npm install …`), system packages
//   (`apt-get`), other tools (`python3` with torch) and commands that need a GPU adapter are
//   listed as not run, with the reason.
// Takes 15-25 s on 2 shared cores after `npm ci` (with --clone, plus the clone's `npm ci`).
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const started = Date.now();
const secs = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (line) => console.log(`readme-commands: ${line}`);
const fail = (line) => {
  console.error(`readme-commands: FAILED: ${line}`);
  process.exit(1);
};

for (const a of args) if (!['--clone', '--worktree'].includes(a)) fail(`unknown option ${a}`);
let repo = here;
let cloneDir;
if (args.includes('--clone')) {
  cloneDir = mkdtempSync(join(tmpdir(), 'densehybrid-fresh-'));
  repo = join(cloneDir, 'repo');
  run('git', ['clone', '--quiet', here, repo], here, 'git clone');
  if (args.includes('--worktree')) {
    // The working tree's files that git would commit (tracked, or untracked and not ignored).
    const listed = spawnSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: here,
        encoding: 'utf8',
      },
    );
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      const from = join(here, file);
      if (!existsSync(from)) rmSync(join(repo, file), { force: true });
      else cpSync(from, join(repo, file), { recursive: true });
    }
    say('copied the working tree into the clone');
  }
  const t0 = Date.now();
  run('npm', ['ci', '--no-audit', '--no-fund'], repo, 'npm ci (in the fresh clone)');
  say(`npm ci in the fresh clone: ${secs(t0)} (includes the root "prepare" build)`);
}

const work = join(repo, '.readme-example-commands');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const dataDir = join(work, 'data');
let linked = false;
process.on('exit', () => {
  if (linked) unlinkSync('/data');
  rmSync(work, { recursive: true, force: true });
  if (cloneDir) rmSync(cloneDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

// ---- the commands ----
async function main() {
  const readmes = [
    'README.md',
    ...readdirSync(join(repo, 'packages'))
      .map((p) => `packages/${p}/README.md`)
      .filter((p) => existsSync(join(repo, p))),
  ];
  const commands = [];
  for (const readme of readmes) {
    const text = readFileSync(join(repo, readme), 'utf8');
    const blocks = [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)];
    const json = blocks.filter((b) => b[1] === 'json').map((b) => b[2]);
    for (const block of blocks) {
      if (!['sh', 'bash', 'shell', 'console'].includes(block[1])) continue;
      for (const line of shellCommands(block[2])) {
        for (const command of line.split(/\s+&&\s+/)) commands.push({ readme, command, json });
      }
    }
  }

  /**
   * The commands of a shell block: a newline ends one unless it is inside quotes or after a
   * backslash; `# comments` (outside quotes, at a word start) are dropped.
   */
  function shellCommands(text) {
    const out = [];
    let current = '';
    let quote = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quote) {
        if (c === quote) quote = '';
        current += c;
      } else if (c === '"' || c === "'") {
        quote = c;
        current += c;
      } else if (c === '\\' && text[i + 1] === '\n') {
        current += ' ';
        i++;
      } else if (c === '#' && (current === '' || /\s$/.test(current))) {
        while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      } else if (c === '\n') {
        if (current.trim()) out.push(current.trim().replace(/\s+/g, ' '));
        current = '';
      } else current += c;
    }
    if (current.trim()) out.push(current.trim().replace(/\s+/g, ' '));
    return out;
  }

  const rootScripts = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts ?? {};
  /** Commands not run, by rule: [pattern, reason]. */
  const notRun = [
    [
      /^npm ci$/,
      args.includes('--clone')
        ? 'ran above, in the fresh clone'
        : 'CI ran it just before this check',
    ],
    [
      /^npm install /,
      'installs published packages from the npm registry (`npm run pack:check` installs each tarball alone)',
    ],
    [/^python3 /, 'needs PyTorch'],
    [
      /^ONNXRUNTIME_NODE_INSTALL=skip npm install /,
      'installs onnxruntime-node from the npm registry (a devDependency here)',
    ],
    [
      /^sudo apt-get /,
      'installs system packages (scripts/ci-webgpu.sh does, for the webgpu suite)',
    ],
    [/^bash scripts\/ci-webgpu\.sh$/, 'the webgpu suite: a CI step of its own'],
    [
      /^(EGL_PLATFORM=\S+ )?DENSEHYBRID_BACKEND=webgpu node /,
      'needs a WebGPU adapter (the webgpu suite runs it on a software adapter)',
    ],
  ];

  const ciSize = ['--backbone', 'tiny', '--steps', '2', '--batch-size', '1', '--crop-size', '32'];
  let ran = 0;
  const skipped = [];
  let dataPrepared = false;
  for (const { readme, command, json } of commands) {
    const npmRun = /^npm (?:run (\S+)|(test))$/.exec(command);
    if (npmRun) {
      const script = npmRun[1] ?? npmRun[2];
      if (!(script in rootScripts))
        fail(`${readme}: \`${command}\`: no script "${script}" in package.json`);
      const why = {
        test: "CI's own test step runs it",
        demo: 'takes minutes (packages/cli/test/demo.test.ts runs the demo in its quick configuration)',
        build: "npm ci's prepare ran it",
      };
      skipped.push(`${readme}: \`${command}\` — script defined; ${why[script] ?? 'not run here'}`);
      continue;
    }
    const rule = notRun.find(([pattern]) => pattern.test(command));
    if (rule) {
      skipped.push(
        `${readme}: \`${command.length > 60 ? `${command.slice(0, 57)}…` : command}\` — ${rule[1]}`,
      );
      continue;
    }
    if (!/^(npx )?densehybrid( |$)/.test(command)) {
      fail(`${readme}: \`${command}\` matches no rule of scripts/readme-commands.mjs: add one`);
    }
    if (!dataPrepared) {
      await makeData();
      dataPrepared = true;
    }
    const cwd = join(work, readme.replace(/\/?README\.md$/, '').replace(/\//g, '-') || 'root');
    mkdirSync(cwd, { recursive: true });
    await makeInputs(cwd, command, json);
    let line = linked ? command : command.replaceAll('/data/', `${dataDir}/`);
    if (/^(npx )?densehybrid train /.test(command)) line += ` ${ciSize.join(' ')}`;
    if (/^(npx )?densehybrid import /.test(command)) line += ' --arch tiny';
    const t0 = Date.now();
    const r = spawnSync('bash', ['-c', line], {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        // a bare `densehybrid` is the installed bin (`npm install -g`): node_modules/.bin here
        ...(command.startsWith('npx ')
          ? {}
          : { PATH: `${join(repo, 'node_modules', '.bin')}:${process.env.PATH}` }),
        npm_config_yes: 'false', // npx must not fetch a package: the local bin or nothing
      },
    });
    if (r.status !== 0) {
      console.error(r.stdout.slice(-2000));
      console.error(r.stderr.slice(-4000));
      fail(
        `${readme}: \`${command}\` exited with ${r.status ?? r.signal} (in ${relative(repo, cwd)})`,
      );
    }
    ran++;
    say(
      `ok ${secs(t0).padStart(6)}  ${readme}: ${command}${line.endsWith(ciSize.join(' ')) || line.endsWith(' --arch tiny') ? ' (+ CI-size flags)' : ''}`,
    );
  }
  for (const s of skipped) say(`not run: ${s}`);
  if (ran === 0) fail('no densehybrid command found in the READMEs');
  say(
    `${ran} commands ran as written, ${skipped.length} not run (reasons above), ${secs(started)}`,
  );
}

// ---- inputs ----

/** `/data` → the fixtures when possible (see the header). */
async function makeData() {
  await makeStreetHazards(join(dataDir, 'streethazards'));
  await makeAde(join(dataDir, 'ADEChallengeData2016'));
  let stale = false;
  try {
    stale =
      lstatSync('/data').isSymbolicLink() &&
      readlinkSync('/data').includes('.readme-example-commands') &&
      !existsSync('/data/streethazards');
  } catch {
    stale = false;
  }
  try {
    if (stale) unlinkSync('/data');
    symlinkSync(dataDir, '/data');
    linked = true;
    say(`/data → ${dataDir} (tiny fixtures in the public layouts) while the check runs`);
  } catch (e) {
    say(
      `/data cannot be linked here (${e.code ?? e.message}): the commands read ${dataDir}/ for /data/`,
    );
  }
}

/** `street.jpg`, `photos/`, and a `--config` file from the README's JSON block. */
async function makeInputs(cwd, command, json) {
  if (/\bstreet\.jpg\b/.test(command))
    await writeRgb(join(cwd, 'street.jpg'), 40, 30, (x, y) => [x * 6, y * 8, 90]);
  if (/\bphotos\//.test(command))
    await writeRgb(join(cwd, 'photos', 'p0.png'), 36, 28, (x, y) => [200, x * 7, y * 9]);
  const checkpoint = /^(?:npx )?densehybrid import (\S+\.(?:pt|pth|safetensors))(?=\s|$)/.exec(
    command,
  )?.[1];
  if (checkpoint !== undefined && !existsSync(join(cwd, checkpoint)))
    await writeAuthorsCheckpoint(join(cwd, checkpoint), command);
  const config = /--config (\S+)/.exec(command)?.[1];
  if (config !== undefined && !existsSync(join(cwd, config))) {
    if (json.length !== 1)
      fail(
        `\`${command}\`: expected one JSON block in its README for ${config}, got ${json.length}`,
      );
    writeFileSync(join(cwd, config), json[0]);
    // Its relative paths (../data/…) resolve against the config's folder.
    const data = join(cwd, '..', 'data');
    if (!existsSync(data)) symlinkSync(dataDir, data);
  }
}

/**
 * A tiny LDN's state_dict with the authors' key names (test-support/authors-checkpoint.ts), in
 * PyTorch's zip format (test-support/torch-zip.ts; both transpiled here, types erased), K from
 * the command's `--classes` (streethazards 12, cityscapes 19, a count, or names).
 */
async function writeAuthorsCheckpoint(path, command) {
  const classes = /--classes (\S+)/.exec(command)?.[1] ?? '19';
  const k =
    { streethazards: 12, cityscapes: 19 }[classes] ??
    (/^\d+$/.test(classes) ? Number(classes) : classes.split(',').length);
  const ts = (await import('typescript')).default;
  const tmp = [];
  try {
    for (const name of ['torch-zip', 'authors-checkpoint']) {
      const file = join(repo, 'test-support', `.${name}.readme-${process.pid}.mjs`);
      const source = readFileSync(join(repo, 'test-support', `${name}.ts`), 'utf8');
      const js = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(file, js.replace('./torch-zip.js', `./.torch-zip.readme-${process.pid}.mjs`));
      tmp.push(file);
    }
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const { ladderDenseNet } = await import('@densehybrid/backbones');
    const { writeTorchZip } = await import(tmp[0]);
    const { authorsStateDict, twoWayHead } = await import(tmp[1]);
    const model = ladderDenseNet({ preset: 'tiny', numClasses: k, seed: 1 });
    const head = twoWayHead(model.preLogitChannels, 1);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, writeTorchZip(authorsStateDict(model, head)));
    model.dispose();
  } finally {
    for (const f of tmp) rmSync(f, { force: true });
  }
}

let sharp;
async function writeImage(path, w, h, channels, pixel) {
  sharp ??= (await import('sharp')).default;
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data.set(pixel(x, y), (y * w + x) * channels);
  mkdirSync(dirname(path), { recursive: true });
  let img = sharp(data, { raw: { width: w, height: h, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  await (path.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(path);
}
const writeRgb = (path, w, h, rgb) => writeImage(path, w, h, 3, rgb);
const writeGrey = (path, w, h, v) => writeImage(path, w, h, 1, (x, y) => [v(x, y)]);

/** Scene i: road (raw 8) below a sky/building split, an anomaly square (raw 14) in test images. */
function scene(i, anomaly) {
  const ax = 4 + ((i * 7) % 16);
  const ay = 10 + ((i * 3) % 6);
  const isAnomaly = (x, y) => anomaly && x >= ax && x < ax + 8 && y >= ay && y < ay + 6;
  const raw = (x, y) => (isAnomaly(x, y) ? 14 : y >= 12 ? 8 : x < 16 ? 2 : 10);
  const rgb = (x, y) => {
    if (isAnomaly(x, y)) return [250, 30 + 10 * i, 200];
    const r = raw(x, y);
    return r === 8 ? [90, 90, 100] : r === 2 ? [140, 120, 110] : [40, 150, 50];
  };
  return { raw, rgb };
}

/** StreetHazards: train/{images,annotations}/training/**.png, test/…/test/{t5,t6}/*.png. */
async function makeStreetHazards(root) {
  for (let i = 0; i < 3; i++) {
    const s = scene(i, false);
    await writeRgb(join(root, 'train/images/training/town', `${i}.png`), 32, 24, s.rgb);
    await writeGrey(join(root, 'train/annotations/training/town', `${i}.png`), 32, 24, s.raw);
  }
  for (const fold of ['t5', 't6']) {
    for (let i = 0; i < 2; i++) {
      const s = scene(i + (fold === 't6' ? 2 : 0), true);
      await writeRgb(join(root, 'test/images/test', fold, `${i}.png`), 32, 24, s.rgb);
      await writeGrey(join(root, 'test/annotations/test', fold, `${i}.png`), 32, 24, s.raw);
    }
  }
}

/** ADE20k: images/training/*.jpg with annotations/training/*.png. */
async function makeAde(root) {
  for (let i = 0; i < 2; i++) {
    await writeRgb(join(root, 'images/training', `ADE_train_${i}.jpg`), 20, 20, (x, y) => [
      x * 12,
      y * 12,
      128 + i * 60,
    ]);
    await writeGrey(join(root, 'annotations/training', `ADE_train_${i}.png`), 20, 20, (x) =>
      x < 10 ? 5 : 17,
    );
  }
}

function run(cmd, argv, cwd, what) {
  const r = spawnSync(cmd, argv, { cwd, stdio: 'inherit' });
  if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}`);
}

await main();
