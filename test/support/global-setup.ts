import type { TestProject } from 'vitest/node';
import { startWsProxy } from './ws-proxy.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** ws:// URL of the WebSocket-to-TCP proxy, when TEST_DATABASE_URL names a real PostgreSQL. */
    wsProxyUrl: string | undefined;
  }
}

/** Starts the proxy the Neon driver needs to reach the real PostgreSQL named by TEST_DATABASE_URL. */
export default async function setup(project: TestProject) {
  if (!process.env.TEST_DATABASE_URL) {
    project.provide('wsProxyUrl', undefined);
    return;
  }
  const proxy = await startWsProxy();
  project.provide('wsProxyUrl', proxy.url);
  return () => proxy.close();
}
