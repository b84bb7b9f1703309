/**
 * JSON as a client may send it, not only as JSON.stringify writes it: objects keep their entries
 * in order and may name a key twice, and a number may be any token (1e400, -0, 1E2). The server
 * reads the text with JSON.parse, so what it sees is `JSON.parse(jsonText(value))`.
 */
export type Json = null | boolean | number | string | Json[] | JsonObject | JsonToken;

/** An object as a list of entries, so a key may come twice (JSON.parse keeps the last). */
export class JsonObject {
  constructor(readonly entries: readonly (readonly [string, Json])[]) {}
}

/** A literal token written as it is: a number JSON.stringify cannot write. */
export class JsonToken {
  constructor(readonly text: string) {}
}

export function jsonText(value: Json): string {
  if (value instanceof JsonToken) return value.text;
  if (value instanceof JsonObject) {
    return `{${value.entries.map(([key, v]) => `${JSON.stringify(key)}:${jsonText(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  return JSON.stringify(value);
}

/** A plain JSON value (fast-check's jsonValue) as a Json. */
export function fromPlain(value: unknown): Json {
  if (Array.isArray(value)) return value.map(fromPlain);
  if (value !== null && typeof value === 'object') {
    return new JsonObject(Object.entries(value).map(([k, v]) => [k, fromPlain(v)] as const));
  }
  return value as Json;
}

/** The dotted paths of the keys an object names more than once. */
export function duplicateKeys(value: Json, path = ''): string[] {
  const at = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (Array.isArray(value)) return value.flatMap((item, i) => duplicateKeys(item, at(i)));
  if (!(value instanceof JsonObject)) return [];
  const seen = new Set<string>();
  const found: string[] = [];
  for (const [key, v] of value.entries) {
    if (seen.has(key)) found.push(at(key));
    seen.add(key);
    found.push(...duplicateKeys(v, at(key)));
  }
  return found;
}
