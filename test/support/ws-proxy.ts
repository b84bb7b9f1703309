import { connect, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * The WebSocket-to-TCP proxy the Neon driver talks to in tests: each WebSocket carries one
 * PostgreSQL connection to the `address` query parameter. `dropAll` cuts every live
 * connection, as a network failure would.
 */
export interface WsProxy {
  url: string;
  dropAll(): void;
  close(): Promise<void>;
}

export async function startWsProxy(options: { port?: number; allowedHosts?: string[] } = {}): Promise<WsProxy> {
  const allowed = new Set(options.allowedHosts ?? ['127.0.0.1', 'localhost', '::1']);
  const sockets = new Set<Socket>();
  const server = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  server.on('connection', (ws, request) => {
    const address = new URL(request.url ?? '/', 'ws://proxy').searchParams.get('address') ?? '';
    const [, host = '', port = ''] = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address) ?? [];
    if (!allowed.has(host)) return ws.close(1008, 'address not allowed');
    // Without Nagle's algorithm, as Neon's proxy connects to its compute: a driver that sends each
    // protocol message as a WebSocket message of its own would otherwise wait out a delayed ACK (40 ms).
    const tcp = connect({ port: Number(port), host, noDelay: true });
    sockets.add(tcp);
    tcp.on('data', (chunk) => ws.send(chunk));
    ws.on('message', (data: Buffer) => tcp.write(data));
    tcp.on('close', () => (sockets.delete(tcp), ws.close()));
    tcp.on('error', () => ws.terminate());
    ws.on('close', () => tcp.destroy());
    ws.on('error', () => tcp.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/v1`,
    dropAll: () => sockets.forEach((s) => s.destroy()),
    close: () => {
      sockets.forEach((s) => s.destroy());
      server.clients.forEach((c) => c.terminate());
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
