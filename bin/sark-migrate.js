#!/usr/bin/env node
// The command line (src/cli/), run through tsx, a dependency: `npm install` is all it needs, with
// no build step whose output could fall behind the TypeScript it comes from.
import process from 'node:process';
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('../src/cli/main.ts', import.meta.url);
process.exitCode = await main(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
