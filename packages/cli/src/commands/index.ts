import type { AnyCommand } from '../command.js';
import { demoCommand } from '../demo/command.js';
import { benchCommand } from './bench.js';
import { calibrateCommand } from './calibrate.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { inferCommand } from './infer.js';
import { mergeCommand } from './merge.js';
import { trainCommand } from './train.js';

/**
 * Every `densehybrid` sub-command, in the order `--help` lists them.
 *
 * To add a command: write a module exporting `defineCommand({ name, summary, flags, run })`
 * (see ../command.ts), import it here and add it to the list. The demo command (issue 8) lives
 * in ../demo/command.ts.
 */
export const COMMANDS: readonly AnyCommand[] = [
  demoCommand,
  trainCommand,
  evalCommand,
  mergeCommand,
  inferCommand,
  calibrateCommand,
  importCommand,
  exportCommand,
  benchCommand,
];
