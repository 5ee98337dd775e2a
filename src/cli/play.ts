#!/usr/bin/env node
// The `play` command (built to dist/src/cli/play.js). The engine is plain JavaScript; the TypeScript loader is
// registered only when a user's playbook, inventory or role (.ts) is about to be loaded.
import { Profiler } from '../profile.ts';
import { UserFileLoader } from './load.ts';
import { main } from './main.ts';

// From the process's start to here: node itself and the few modules the command line needs.
const profiler = new Profiler({ fromProcessStart: true });
profiler.mark('node start');

process.exitCode = await main(process.argv.slice(2), process, {
  profiler,
  loader: new UserFileLoader({ compileTypeScript: true }),
});
