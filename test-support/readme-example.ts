/**
 * Runs a package README's example exactly as written, for the packages' README tests (a test
 * helper shared by relative import; not part of any published package).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** Options of {@link runReadmeExample}. */
export interface ReadmeExampleOptions {
  /** The README heading the example follows. @default 'Example' */
  readonly heading?: string;
  /** The code block's language; `ts` is transpiled (types erased) before running. @default 'js' */
  readonly lang?: 'js' | 'ts';
  /** Working directory of the run (where relative paths in the example land). @default the package */
  readonly cwd?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What {@link runReadmeExample} saw. */
export interface ReadmeExampleRun {
  /** The example's source as the README shows it. */
  readonly code: string;
  /** Its non-blank lines. */
  readonly lines: number;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Extracts the first code block after `## <heading>` in `<packageDir>/README.md`, writes it into
 * the package folder (so that the package resolves itself by name), runs it with Node and removes
 * the file again.
 *
 * @throws Error when the README has no such heading or block
 */
export function runReadmeExample(
  packageDir: string,
  options: ReadmeExampleOptions = {},
): ReadmeExampleRun {
  const { heading = 'Example', lang = 'js' } = options;
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const at = readme.indexOf(`## ${heading}\n`);
  if (at < 0) throw new Error(`README.md of ${packageDir} has no "## ${heading}" section`);
  const code = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at))?.[1];
  if (code === undefined) throw new Error(`"## ${heading}" in ${packageDir} has no ${lang} block`);
  const js =
    lang === 'ts'
      ? ts.transpileModule(code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText
      : code;
  const file = join(packageDir, `.readme-example-${process.pid}-${Date.now()}.mjs`);
  writeFileSync(file, js);
  try {
    const run = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      cwd: options.cwd ?? packageDir,
      env: { ...process.env, ...options.env },
    });
    return {
      code,
      lines: code.split('\n').filter((l) => l.trim() !== '').length,
      status: run.status,
      stdout: run.stdout,
      stderr: run.stderr,
    };
  } finally {
    rmSync(file, { force: true });
  }
}
