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

/** A JSON object whose every key and string, however deep, PostgreSQL can store; a bad one is named by its path. */
export const storableJsonObject = () =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const walk = (node: unknown, path: (string | number)[]): void => {
      if (typeof node === 'string') {
        const why = unstorable(node);
        if (why) ctx.addIssue({ code: 'custom', message: why, path });
      } else if (Array.isArray(node)) {
        node.forEach((item, i) => walk(item, [...path, i]));
      } else if (node !== null && typeof node === 'object') {
        for (const [key, item] of Object.entries(node)) {
          const why = unstorable(key);
          if (why) ctx.addIssue({ code: 'custom', message: `a key ${why}`, path: [...path, key] });
          else walk(item, [...path, key]);
        }
      }
    };
    walk(value, []);
  });
