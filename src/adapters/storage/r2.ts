import { assertSafeKey, chunksOf, type ObjectMeta, type ObjectStore } from './types.js';

/** The slice of Workers' R2Bucket this adapter uses (kept local: adapters own their interfaces). */
export interface R2BucketLike {
  put(key: string, value: string | Uint8Array, options?: R2PutOptionsLike): Promise<unknown>;
  get(key: string): Promise<{ text(): Promise<string>; body: ReadableStream<Uint8Array> } | null>;
  createMultipartUpload(key: string, options?: R2PutOptionsLike): Promise<R2MultipartUploadLike>;
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

interface R2PutOptionsLike {
  httpMetadata?: { contentType?: string };
  customMetadata?: ObjectMeta;
}

interface R2MultipartUploadLike {
  uploadPart(partNumber: number, value: Uint8Array): Promise<{ partNumber: number; etag: string }>;
  complete(parts: { partNumber: number; etag: string }[]): Promise<unknown>;
  abort(): Promise<void>;
}

/**
 * R2 refuses a put of a stream of unknown length, and a multipart upload's parts must be at
 * least 5 MiB and all of one size but the last: a stream goes up in parts of exactly this size,
 * so an export holds one part in memory, whatever its length.
 */
export const R2_PART_BYTES = 5 * 1024 * 1024;

/** Cuts a stream into pieces of exactly `size` bytes, the last one shorter. */
async function* partsOf(body: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let part = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of chunksOf(body)) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(size - filled, chunk.length - offset);
      part.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield part;
        part = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield part.subarray(0, filled);
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
    async putStream(key, body, meta) {
      assertSafeKey(key);
      const options = { httpMetadata: { contentType: 'application/gzip' }, customMetadata: meta };
      const parts = partsOf(body, R2_PART_BYTES);
      const first = await parts.next();
      const firstPart = first.done ? new Uint8Array(0) : first.value;
      if (firstPart.length < R2_PART_BYTES) {
        // The whole body in one part: one put of a known length.
        await bucket.put(key, firstPart, options);
        return { bytes: firstPart.length };
      }
      const upload = await bucket.createMultipartUpload(key, options);
      const uploaded: { partNumber: number; etag: string }[] = [];
      let bytes = 0;
      try {
        for (let part: Uint8Array | undefined = firstPart; part;) {
          uploaded.push(await upload.uploadPart(uploaded.length + 1, part));
          bytes += part.length;
          const next = await parts.next();
          part = next.done ? undefined : next.value;
        }
        await upload.complete(uploaded);
      } catch (error) {
        await upload.abort().catch(() => undefined);
        throw error;
      }
      return { bytes };
    },
    async getStream(key) {
      assertSafeKey(key);
      const object = await bucket.get(key);
      return object ? object.body : null;
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
