/**
 * A flat object store: what R2 and a folder of files both do. Keys are made by the report
 * store from validated ids only; adapters still refuse any key outside [a-z0-9/._-].
 */
export type ObjectMeta = Record<string, string>;

export interface StoredObject {
  key: string;
  meta: ObjectMeta;
}

export interface ListPage {
  objects: StoredObject[];
  /** More keys follow the last one returned. */
  truncated: boolean;
}

export interface ObjectStore {
  readonly kind: 'r2' | 'fs';
  put(key: string, body: string, meta: ObjectMeta): Promise<void>;
  get(key: string): Promise<string | null>;
  /**
   * Writes a body of unknown length as it streams (an export of the rollback archive), holding
   * a bounded part of it at a time; the object is there whole or not at all. Answers its size.
   */
  putStream(key: string, body: ReadableStream<Uint8Array>, meta: ObjectMeta): Promise<{ bytes: number }>;
  /** An object put with putStream, as it is stored; null when there is none. */
  getStream(key: string): Promise<ReadableStream<Uint8Array> | null>;
  /** Keys under prefix in ascending order, strictly after startAfter, with their metadata. */
  list(options: { prefix: string; startAfter?: string; limit: number }): Promise<ListPage>;
  /** Resolves when the store answers and keys under prefix may be written, without listing what it holds. */
  check(prefix: string): Promise<void>;
}

const SAFE_KEY = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

export function assertSafeKey(key: string): void {
  if (!SAFE_KEY.test(key) || key.includes('..')) throw new Error(`refused object key ${JSON.stringify(key)}`);
}

/** A stream's chunks in order (the DOM typings give ReadableStream no async iterator). */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
