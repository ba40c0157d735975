#!/usr/bin/env node
import { runCli } from './run.js';
import { processIo } from './io.js';

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write(
      '\ninterrupt: finishing the current step and saving a resumable state (Ctrl-C again to quit now)\n',
    );
    controller.abort(new Error('interrupted by Ctrl-C'));
  } else {
    process.exit(130);
  }
});

const code = await runCli(process.argv.slice(2), processIo(controller.signal));
process.exitCode = code;
