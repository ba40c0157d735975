export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

// framework
export { runCli, EXIT_CODES } from './run.js';
export type { RunCliOptions } from './run.js';
export { CliUsageError } from './args.js';
export type {
  FlagType,
  FlagSpec,
  FlagSpecs,
  PositionalSpec,
  ParsedFlags,
  GlobalFlags,
} from './args.js';
export { defineCommand } from './command.js';
export type { Command, AnyCommand, CommandContext } from './command.js';
export { COMMANDS } from './commands/index.js';
export type { CliIo } from './io.js';
