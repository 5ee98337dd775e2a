#!/usr/bin/env node
// The `play` command: registers the TypeScript loader (playbooks, roles and inventories are .ts files),
// then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
