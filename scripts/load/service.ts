/**
 * The Node service as an operator runs it (`node --import tsx src/entry.node.ts`), as a child
 * process on a free port with its output in files: what `npm run load` and test/load.test.ts
 * put under load.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO } from '../workers-dev.js';

export interface NodeService {
  url: string;
  /** The service's stdout and stderr. */
  logFile: string;
  errFile: string;
  /** What it wrote to stderr: warnings and errors (a 500's stack, a store that failed). */
  stderrLines(): string[];
  /** SIGTERM (it waits for its running operations), SIGKILL after `graceMs`; its exit code, null if killed. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface ServiceOptions {
  databaseUrl: string;
  /** API_TOKENS: the JSON array of entries. */
  apiTokens: string;
  /** The report folder (REPORTS_DIR); two processes on one database may share it or not. */
  reportsDir: string;
  /** Where the logs go. */
  tmpDir: string;
  name: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the service and resolves once GET /health (liveness, no token) answers 200. */
export async function startNodeService(options: ServiceOptions): Promise<NodeService> {
  const port = await freePort();
  const logFile = join(options.tmpDir, `${options.name}.out.log`);
  const errFile = join(options.tmpDir, `${options.name}.err.log`);
  const out = openSync(logFile, 'a');
  const err = openSync(errFile, 'a');
  // Only what the service needs: a WS_PROXY or LEASE_TTL_MS of the caller's shell would change what is measured.
  const inherited = Object.fromEntries(
    ['PATH', 'HOME', 'TMPDIR'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry.node.ts'], {
    cwd: REPO,
    stdio: ['ignore', out, err],
    env: {
      ...inherited,
      DATABASE_URL: options.databaseUrl,
      API_TOKENS: options.apiTokens,
      REPORTS_DIR: options.reportsDir,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
  });
  closeSync(out);
  closeSync(err);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let alive = true;
  void exited.then(() => (alive = false));
  const read = (file: string) => readFileSync(file, 'utf8');
  const service: NodeService = {
    url: `http://127.0.0.1:${port}`,
    logFile,
    errFile,
    stderrLines: () => read(errFile).split('\n').filter(Boolean),
    async stop(graceMs = 70_000) {
      if (!alive) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (!alive) throw new Error(`${options.name} exited before it answered:\n${read(logFile)}${read(errFile)}`);
    const up = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return service;
    if (Date.now() > deadline) {
      await service.stop(0);
      throw new Error(`${options.name} did not answer within 60 s:\n${read(logFile)}${read(errFile)}`);
    }
  }
}
