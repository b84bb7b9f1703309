/**
 * The part of JSON Schema 2020-12 the OpenAPI document uses, and a judge of a value against it:
 * which fields the document refuses, and which it allows though a server may fairly refuse them
 * (a NUL, a lone surrogate, a length that counts differently in code points and UTF-16 units).
 */
export type JsonType = 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object';

export interface JsonSchema {
  $ref?: string;
  type?: JsonType | JsonType[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** Follows `$ref`s within one document (`#/components/schemas/Name`). */
export type Resolve = (schema: JsonSchema) => JsonSchema;

export function resolverOf(document: unknown): Resolve {
  const resolve: Resolve = (schema) => {
    if (!schema.$ref) return schema;
    if (!schema.$ref.startsWith('#/')) throw new Error(`only local $refs are followed: ${schema.$ref}`);
    const target = schema.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, key) => (node as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')],
        document,
      );
    if (!target) throw new Error(`no schema at ${schema.$ref}`);
    return resolve(target as JsonSchema);
  };
  return resolve;
}

/** The types a schema allows; none listed means any. */
export function typesOf(schema: JsonSchema): JsonType[] | undefined {
  return schema.type === undefined ? undefined : [schema.type].flat();
}

export interface Judgement {
  /** Dotted paths ('' for the value itself) of what the schema refuses. */
  invalid: string[];
  /** Dotted paths of what the schema allows but a server may refuse, naming it. */
  suspect: string[];
}

/** How deep a free-form value may nest before it is suspect (PostgreSQL's jsonb has a stack limit). */
export const SUSPECT_DEPTH = 64;

const UUID_RFC9562 =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|0{8}-0{4}-0{4}-0{4}-0{12}|f{8}-f{4}-f{4}-f{4}-f{12})$/i;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const HOSTILE_CHARACTERS = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function typeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

/** How deep a free-form value nests, and whether any key or string in it holds a hostile character. */
function freeFormTraits(value: unknown): { depth: number; hostileText: boolean } {
  // Iterative: a client may nest far deeper than this process's stack.
  let depth = 0;
  let hostileText = false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, level] = stack.pop()!;
    if (typeof node === 'string') hostileText ||= HOSTILE_CHARACTERS.test(node);
    if (node === null || typeof node !== 'object') continue;
    depth = Math.max(depth, level + 1);
    for (const [key, item] of Object.entries(node)) {
      hostileText ||= HOSTILE_CHARACTERS.test(key);
      stack.push([item, level + 1]);
    }
  }
  return { depth, hostileText };
}

/** Judges a parsed value (what the server sees) against a schema of the document. */
export function judge(schema: JsonSchema, value: unknown, resolve: Resolve, path = ''): Judgement {
  const result: Judgement = { invalid: [], suspect: [] };
  // The service names an empty key `(empty key)`, so a field is never named by nothing.
  const at = (key: string | number) => {
    const name = key === '' ? '(empty key)' : String(key);
    return path ? `${path}.${name}` : name;
  };
  const merge = (inner: Judgement) => {
    result.invalid.push(...inner.invalid);
    result.suspect.push(...inner.suspect);
  };
  schema = resolve(schema);

  if (schema.anyOf || schema.oneOf) {
    const branches = (schema.anyOf ?? schema.oneOf)!.map((branch) => judge(branch, value, resolve, path));
    const passing = branches.filter((b) => b.invalid.length === 0);
    const fits = schema.oneOf ? passing.length === 1 : passing.length > 0;
    if (!fits) result.invalid.push(path);
    else result.suspect.push(...passing[0]!.suspect);
  }
  const types = typesOf(schema);
  const type = typeOf(value);
  if (types && !types.includes(type) && !(type === 'integer' && types.includes('number'))) {
    result.invalid.push(path);
    return result;
  }
  const fail = () => void result.invalid.push(path);
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) fail();
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) fail();

  if (typeof value === 'string') {
    if (HOSTILE_CHARACTERS.test(value)) result.suspect.push(path);
    const points = [...value].length;
    const fitsIn = (length: number) =>
      (schema.minLength === undefined || length >= schema.minLength) &&
      (schema.maxLength === undefined || length <= schema.maxLength);
    if (!fitsIn(points)) fail();
    else if (!fitsIn(value.length)) result.suspect.push(path); // zod counts UTF-16 units
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) fail();
    if (schema.format === 'uuid' && !UUID_RFC9562.test(value)) {
      if (UUID_SHAPE.test(value)) result.suspect.push(path);
      else fail();
    }
  }
  if (typeof value === 'number') {
    // 1e400 is a JSON number, but JSON.parse makes it Infinity: no integer, and null once stored.
    if (!Number.isFinite(value)) {
      if (types) fail();
      else result.suspect.push(path);
    }
    if (schema.minimum !== undefined && value < schema.minimum) fail();
    if (schema.maximum !== undefined && value > schema.maximum) fail();
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail();
    if (schema.maxItems !== undefined && value.length > schema.maxItems) fail();
    if (schema.items) value.forEach((item, i) => merge(judge(schema.items!, item, resolve, at(i))));
  }
  if (type === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!Object.hasOwn(object, key)) result.invalid.push(at(key));
    for (const [key, item] of Object.entries(object)) {
      // Own properties only: a key `__proto__` or `constructor` names no property of the schema.
      const declared = schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (declared) merge(judge(declared, item, resolve, at(key)));
      else if (schema.additionalProperties === false) result.invalid.push(at(key));
      else if (typeof schema.additionalProperties === 'object') {
        if (HOSTILE_CHARACTERS.test(key)) result.suspect.push(at(key));
        merge(judge(schema.additionalProperties, item, resolve, at(key)));
      }
    }
  }
  if (types === undefined && value !== null && typeof value === 'object') {
    const traits = freeFormTraits(value);
    if (traits.depth > SUSPECT_DEPTH || traits.hostileText) result.suspect.push(path);
  }
  return result;
}
