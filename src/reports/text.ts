import type { RefinementCtx } from 'zod';
import { z } from './zod.js';

/**
 * Text a request may carry into SQL: PostgreSQL stores neither a NUL character nor a lone
 * UTF-16 surrogate (UTF-8 has no encoding for one), in text or in jsonb. The schemas refuse
 * them, naming the field, before anything reaches the database.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL could not store this text; undefined when it can. */
export function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain a NUL character (\\u0000): PostgreSQL cannot store it';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode: it holds an unpaired UTF-16 surrogate';
  return undefined;
}

const refuseUnstorable = (text: string, ctx: RefinementCtx) => {
  const why = unstorable(text);
  if (why) ctx.addIssue({ code: 'custom', message: why });
};

/** A string of 1 to `max` characters that PostgreSQL can store. */
export const text = (max: number) => z.string().min(1).max(max).superRefine(refuseUnstorable);

/** How deep a JSON object a request may carry (a containment filter needs a handful of levels). */
export const MAX_JSON_DEPTH = 32;

/**
 * A JSON object whose every key and string, however deep, PostgreSQL can store, nested at most
 * MAX_JSON_DEPTH levels; a bad value is named by its path. Walked without recursion, so no
 * depth of nesting can exhaust the stack.
 */
export const storableJsonObject = () =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const pending: { node: unknown; path: (string | number)[] }[] = [{ node: value, path: [] }];
    while (pending.length > 0) {
      const { node, path } = pending.pop()!;
      if (typeof node === 'string') {
        const why = unstorable(node);
        if (why) ctx.addIssue({ code: 'custom', message: why, path });
        continue;
      }
      if (node === null || typeof node !== 'object') continue;
      if (path.length >= MAX_JSON_DEPTH) {
        ctx.addIssue({ code: 'custom', message: `must not nest deeper than ${MAX_JSON_DEPTH} levels`, path });
        continue;
      }
      const entries: [string | number, unknown][] = Array.isArray(node)
        ? node.map((item, i) => [i, item])
        : Object.entries(node);
      for (const [key, item] of entries.reverse()) {
        const why = typeof key === 'string' ? unstorable(key) : undefined;
        if (why) ctx.addIssue({ code: 'custom', message: `a key ${why}`, path: [...path, key] });
        else pending.push({ node: item, path: [...path, key] });
      }
    }
  });
