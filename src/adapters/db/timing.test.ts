import { describe, expect, it } from 'vitest';
import { submittingTimer } from './timing.js';

/** node-postgres' Query as far as the timer relies on it: the config, submit(), the handlers, the callback. */
class FakeQuery {
  callback?: (error: Error | null | undefined, result?: unknown) => void;
  submittedWith?: { extended: boolean };
  constructor(config: { callback: FakeQuery['callback'] }) {
    this.callback = config.callback;
  }
  requiresPreparation(): boolean {
    return false;
  }
  submit(_connection: unknown): Error | null {
    this.submittedWith = { extended: this.requiresPreparation() };
    return null;
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handleError(error: Error): void {
    this.callback?.(error);
  }
  handleReadyForQuery(): void {}
}

type Message = 'description' | 'row' | 'complete' | 'ready' | 'error';
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A client whose server answers in reads, each `afterMs` after the one before, its messages handed
 * to the query in one synchronous run as the drivers do, each row costing `parseMs` of parsing first.
 */
function fakeClient(reads: { afterMs: number; messages: Message[] }[], parseMs = 0) {
  const submitted: FakeQuery[] = [];
  class Client {
    static Query = FakeQuery;
    neonConfig?: { coalesceWrites: boolean };
    coalescingAtSubmit?: boolean;
    query(query: FakeQuery) {
      submitted.push(query);
      this.coalescingAtSubmit = this.neonConfig?.coalesceWrites;
      query.submit({});
      void (async () => {
        for (const read of reads) {
          await sleep(read.afterMs);
          for (const message of read.messages) {
            if (message === 'description') query.handleRowDescription();
            if (message === 'row') {
              busy(parseMs);
              query.handleDataRow();
            }
            if (message === 'complete') query.handleCommandComplete();
            if (message === 'ready') query.handleReadyForQuery();
            if (message === 'error') query.handleError(Object.assign(new Error('division by zero'), { code: '22012' }));
          }
        }
      })();
    }
  }
  return { client: new Client(), submitted };
}

const rows = (n: number): Message[] => Array.from({ length: n }, () => 'row');

describe('submittingTimer', () => {
  it('is there only for a client that exposes its driver Query class', () => {
    expect(submittingTimer(fakeClient([]).client)).toBeTypeOf('function');
    expect(submittingTimer({ query: () => undefined })).toBeUndefined(); // a pool
    expect(submittingTimer(null)).toBeUndefined();
  });

  it('counts rows, and always asks the driver for the extended protocol', async () => {
    const { client, submitted } = fakeClient([
      { afterMs: 1, messages: ['description', ...rows(7), 'complete', 'ready'] },
    ]);
    expect((await submittingTimer(client)!('SELECT 1', [])).rows).toBe(7);
    expect(submitted[0]!.submittedWith).toEqual({ extended: true });
  });

  it("stops the clock when the read bringing ReadyForQuery arrived, not after the driver's parsing of it", async () => {
    const { client } = fakeClient([{ afterMs: 20, messages: ['description', ...rows(20), 'complete', 'ready'] }], 2);
    const started = performance.now();
    const timing = await submittingTimer(client)!('SELECT 1', []);
    const elapsed = performance.now() - started;
    expect(timing.ms).toBeGreaterThanOrEqual(19); // the server's answer took 20 ms to arrive
    expect(elapsed - timing.ms).toBeGreaterThanOrEqual(39); // 20 rows × 2 ms of parsing left out
  });

  it('includes every read before the last one', async () => {
    const { client } = fakeClient([
      { afterMs: 10, messages: ['description', ...rows(3)] },
      { afterMs: 30, messages: [...rows(2), 'complete', 'ready'] },
    ]);
    const timing = await submittingTimer(client)!('SELECT 1', []);
    expect(timing).toMatchObject({ rows: 5 });
    expect(timing.ms).toBeGreaterThanOrEqual(39);
  });

  it('rejects with the error the driver hands over', async () => {
    const { client } = fakeClient([{ afterMs: 1, messages: ['description', 'row', 'error'] }]);
    await expect(submittingTimer(client)!('SELECT 1 / 0', [])).rejects.toMatchObject({ code: '22012' });
  });

  it("turns the Neon driver's write coalescing off for the submission only", async () => {
    const { client } = fakeClient([{ afterMs: 1, messages: ['ready'] }]);
    client.neonConfig = { coalesceWrites: true };
    await submittingTimer(client)!('SELECT 1', []);
    expect(client.coalescingAtSubmit).toBe(false);
    expect(client.neonConfig.coalesceWrites).toBe(true);
  });
});
