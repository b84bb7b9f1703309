import { createServer, type IncomingMessage, type Server } from 'node:http';

/** What a receiver got: one POST. */
export interface Received {
  path: string;
  body: Record<string, unknown>;
  /** The body as it came (a signature is over these bytes), and the headers, lowercased. */
  raw: string;
  headers: Record<string, string>;
  /** What the receiver answered it. */
  status: number;
  at: number;
}

/**
 * A real HTTP server on 127.0.0.1 that plays Slack's response_url (or any notify target): it
 * records every POST, and answers the next ones with a failure when told to. A GET of a path
 * answers the POSTs that path got, as JSON.
 */
export interface Receiver {
  url(path?: string): string;
  received: Received[];
  /** The next `times` requests are answered `status` (a 503, say) before the receiver takes them. */
  failNext(times: number, status: number): void;
  /** Waits for a POST that `match` accepts (that the receiver took, 2xx), and returns it. */
  waitFor(match: (r: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let failures: { times: number; status: number } = { times: 0, status: 503 };
  const server: Server = createServer((request, response) => {
    // GET: what this path got, for a test that cannot see this process (the Workers suite, in workerd).
    if (request.method === 'GET') {
      const got = received.filter((r) => r.path === request.url);
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(got));
      return;
    }
    void readBody(request).then((text) => {
      let status = 200;
      if (failures.times > 0) {
        failures.times--;
        status = failures.status;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsable: text };
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      );
      received.push({ path: request.url ?? '/', body, raw: text, headers, status, at: Date.now() });
      response.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    failNext(times, status) {
      failures = { times, status };
    },
    async waitFor(match, timeoutMs = 20_000) {
      for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 20))) {
        const found = received.find((r) => r.status < 300 && match(r));
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(
            `no matching POST within ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => r.body.text))}`,
          );
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
