// Runs before `npm start`, `npm run dev` and the test scripts: on a Node older than package.json's
// engines.node it stops with what to install and where from (npm itself only warns, EBADENGINE).
// Plain JavaScript without dependencies, so that the Node it refuses can still run it.
/* global process, console, URL */
import { readFileSync } from 'node:fs';

const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
const needed = Number(/\d+/.exec(engines)[0]);
const running = process.versions.node;

if (Number(running.split('.')[0]) < needed) {
  console.error(
    `sark-migrate needs Node.js ${needed} or newer (package.json engines.node "${engines}", .nvmrc), ` +
      `but this is Node ${running} (${process.execPath}). Node 20 reached end of life in April 2026; the ` +
      `API reference page (@scalar) and current wrangler need Node ${needed}. The npm registry serves ` +
      `Node builds, so you can get it without touching the Node you have: ` +
      `\`npm install --prefix ~/.node${needed} node@${needed}\`, then ` +
      `\`export PATH="$HOME/.node${needed}/node_modules/.bin:$PATH"\` and run the command again ` +
      `(Linux x64/arm64, Intel macOS); or, with nvm, \`nvm install && nvm use\` in this folder (reads .nvmrc). ` +
      `\`bash .ci/run\` fetches Node ${needed} into .ci/node by itself.`,
  );
  process.exit(1);
}
