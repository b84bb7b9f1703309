import { assertSafeKey, type ObjectMeta, type ObjectStore } from './types.js';

/** The slice of Workers' R2Bucket this adapter uses (kept local: adapters own their interfaces). */
export interface R2BucketLike {
  put(
    key: string,
    value: string,
    options?: { httpMetadata?: { contentType?: string }; customMetadata?: ObjectMeta },
  ): Promise<unknown>;
  get(key: string): Promise<{ text(): Promise<string> } | null>;
  list(options?: {
    prefix?: string;
    startAfter?: string;
    limit?: number;
    include?: ('customMetadata' | 'httpMetadata')[];
  }): Promise<{
    objects: { key: string; customMetadata?: ObjectMeta }[];
    truncated: boolean;
  }>;
}

export function r2ObjectStore(bucket: R2BucketLike): ObjectStore {
  return {
    kind: 'r2',
    async put(key, body, meta) {
      assertSafeKey(key);
      await bucket.put(key, body, { httpMetadata: { contentType: 'application/json' }, customMetadata: meta });
    },
    async get(key) {
      assertSafeKey(key);
      const object = await bucket.get(key);
      return object ? object.text() : null;
    },
    async list({ prefix, startAfter, limit }) {
      const page = await bucket.list({
        prefix,
        limit,
        include: ['customMetadata'],
        ...(startAfter ? { startAfter } : {}),
      });
      return {
        objects: page.objects.map((o) => ({ key: o.key, meta: o.customMetadata ?? {} })),
        truncated: page.truncated,
      };
    },
    async check(prefix) {
      await bucket.list({ prefix, limit: 1 }); // R2 answers one key as cheaply as none
    },
  };
}
