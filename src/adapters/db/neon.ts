import { Client, Pool, type ClientConfig } from '@neondatabase/serverless';
import { CONNECTION_LIMITS, poolBounds, poolDatabase } from './pool.js';
import type { Database } from './types.js';

export interface NeonOptions {
  connectionString: string;
  /** A WebSocket constructor where the runtime has none (Node: the `ws` package). */
  webSocketConstructor?: unknown;
  /**
   * A local WebSocket-to-TCP proxy (ws://host:port/) for reaching a plain PostgreSQL in
   * development and tests: connections then go unencrypted, unpipelined, through it.
   */
  wsProxy?: string;
  max?: number;
}

/** PostgreSQL over WebSockets with the Neon serverless driver (Workers, or Node with `ws`). */
export function createNeonDatabase(options: NeonOptions): Database {
  const { wsProxy, webSocketConstructor } = options;
  // Configure each client, not the driver's globals: one isolate may serve several configs.
  class ConfiguredClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
      const neon = this.neonConfig;
      if (webSocketConstructor) neon.webSocketConstructor = webSocketConstructor as typeof neon.webSocketConstructor;
      if (wsProxy) {
        const base = wsProxy.replace(/^wss?:\/\//, '').replace(/\/+$/, ''); // the driver adds the scheme
        neon.wsProxy = (host, port) => `${base}/?address=${host}:${port}`;
        neon.useSecureWebSocket = false;
        neon.pipelineTLS = false;
        neon.pipelineConnect = false;
      }
    }
  }
  // Neon's Pool pins its own Client class as a field, so a `Client` option is ignored: subclass it.
  class ConfiguredPool extends Pool {
    override Client = ConfiguredClient;
  }
  const max = options.max ?? 5;
  const pool = new ConfiguredPool({
    connectionString: options.connectionString,
    max,
    ...CONNECTION_LIMITS,
  });
  // Inside workerd every end() is followed by a "Network connection lost" error event;
  // without a listener it surfaces as an uncaught exception.
  pool.on('error', () => undefined);
  return poolDatabase(pool as never, 'neon', poolBounds(max));
}
