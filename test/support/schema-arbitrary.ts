import fc from 'fast-check';
import { typesOf, type JsonSchema, type JsonType, type Resolve } from './json-schema.js';
import { fromPlain, JsonObject, JsonToken, jsonText, type Json } from './json-text.js';

/**
 * Values for a schema of the OpenAPI document: valid ones; valid ones but for one hostile node,
 * each node of the schema in turn; and valid ones with hostile values mixed in at every level.
 * Hostile means wrong types, out-of-range and unrepresentable numbers, NUL and lone surrogates,
 * huge strings, deep nesting, unknown and duplicate keys. Whether a value is valid is not tracked
 * here: the oracle judges what the server parsed against the same schema.
 */
export interface ArbitraryOptions {
  resolve: Resolve;
  /** Mixed values: one value in this many is hostile, at each level. Unset: valid values only. */
  hostileOneIn?: number;
  /** The largest valid value to make for a costly integer field (dotted path): iterations, say. */
  cheap?: Record<string, number>;
  /** Values that exist, for a string field (dotted path): a report id, a plan id. */
  known?: Record<string, string[]>;
}

const at = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/** Characters with no business in a protocol name or a JSON string PostgreSQL keeps: NUL and lone surrogates most. */
const HOSTILE_CHARACTERS: fc.WeightedArbitrary<string>[] = [
  { weight: 3, arbitrary: fc.constant('\u0000') },
  { weight: 3, arbitrary: fc.constantFrom('\uD800', '\uDFFF') },
  { weight: 1, arbitrary: fc.constantFrom('\uDBFF\uDFFF', '\uFEFF', '\u202E', '\uFFFF', '\n', "'", '\\') },
];

const HOSTILE_WORDS = [
  "'; DROP TABLE mcp_servers; --",
  '../../etc/passwd',
  '%00',
  'NaN',
  'Infinity',
  'null',
  ' ',
  '$1',
  '{}',
];

const UNKNOWN_KEYS = ['__proto__', 'constructor', 'prototype', 'DryRun', 'dry_run', '', ' ', 'a.b', '\u0000', '\uD800'];

/** Numbers as tokens JSON.stringify would never write, and values at the edges of every range. */
function hostileNumbers(schema: JsonSchema): fc.Arbitrary<Json> {
  const tokens = ['1e400', '-1e400', '-0', '1E2', '1.0', '9007199254740993', '1e-400', '0.0000001'];
  const edges = [schema.minimum, schema.maximum].filter((n): n is number => n !== undefined);
  return fc.constantFrom<Json>(
    ...tokens.map((t) => new JsonToken(t)),
    ...edges.flatMap((n) => [n - 1, n + 1, n + 0.5]),
    -1,
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    1e21,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_VALUE,
  );
}

function hostileStrings(schema: JsonSchema): fc.Arbitrary<Json> {
  const max = schema.maxLength ?? 64;
  const withCharacter = fc
    .tuple(fc.string({ maxLength: 8 }), fc.oneof(...HOSTILE_CHARACTERS), fc.string({ maxLength: 8 }))
    .map(([a, c, b]) => `${a}${c}${b}`.slice(0, Math.max(max, 1)));
  return fc.oneof(
    { weight: 6, arbitrary: withCharacter },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_WORDS) },
    // Just too long; far too long; as many astral characters as the limit (twice as many UTF-16 units).
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(max + 1), 'x'.repeat(100_000), '\u{1F600}'.repeat(max)) },
  );
}

/** JSON nested deeper than this process's own JSON.stringify can go (about 10,000 levels). */
function deeplyNested(): fc.Arbitrary<Json> {
  return fc
    .tuple(fc.constantFrom(65, 1_000, 5_000, 20_000), fc.boolean())
    .map(([depth, arrays]) =>
      arrays
        ? new JsonToken(`${'['.repeat(depth)}${']'.repeat(depth)}`)
        : new JsonToken(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
    );
}

const freeForm = () => fc.jsonValue({ maxDepth: 3 }).map(fromPlain);
const wrongType = () => fc.constantFrom<Json>(null, true, 0, -1, '', 'x', '1', 'true', [], new JsonObject([]));

/** A value for `schema` at `path`: valid, or hostile one time in `hostileOneIn`. */
export function arbitraryOf(schema: JsonSchema, options: ArbitraryOptions, path = ''): fc.Arbitrary<Json> {
  if (!options.hostileOneIn) return validOf(schema, options, path);
  return fc.oneof(
    { weight: options.hostileOneIn - 1, arbitrary: validOf(schema, options, path) },
    { weight: 1, arbitrary: hostileOf(schema, options, path) },
  );
}

/** Values the schema allows; their fields mixed with hostile ones when options.hostileOneIn is set. */
export function validOf(schema: JsonSchema, options: ArbitraryOptions, path = ''): fc.Arbitrary<Json> {
  schema = options.resolve(schema);
  if (schema.anyOf || schema.oneOf) {
    return fc.oneof(...(schema.anyOf ?? schema.oneOf)!.map((branch) => validOf(branch, options, path)));
  }
  if (schema.enum) return fc.constantFrom(...schema.enum).map(fromPlain);
  if ('const' in schema) return fc.constant(fromPlain(schema.const));
  const types = typesOf(schema);
  if (!types) return freeForm();
  return fc.oneof(...types.map((type) => validOfType(type, schema, options, path)));
}

function validOfType(type: JsonType, schema: JsonSchema, options: ArbitraryOptions, path: string): fc.Arbitrary<Json> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = schema.minimum ?? -1_000_000;
      const max = Math.min(schema.maximum ?? 1_000_000, options.cheap?.[path] ?? Infinity);
      return fc.integer({ min, max });
    }
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'string': {
      const known = options.known?.[path] ?? [];
      return known.length > 0 ? fc.oneof(fc.constantFrom(...known), validString(schema)) : validString(schema);
    }
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 5, 5));
      const items = options.resolve(schema.items ?? {});
      // A list of names from an enum names each once; a name twice is for hostileOf to try.
      if (items.enum)
        return fc.uniqueArray(validOf(items, options, at(path, '0')), { minLength, maxLength, selector: jsonText });
      return fc.array(arbitraryOf(items, options, at(path, '0')), { minLength, maxLength });
    }
    case 'object':
      return validObject(schema, options, path);
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<Json> {
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
  if (schema.format === 'uuid') return fc.uuid();
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 64;
  return fc.oneof(
    fc.string({ minLength, maxLength: Math.min(maxLength, 32) }),
    fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 8) }),
    fc.constant('y'.repeat(maxLength)),
  );
}

/** The entries of an object: required ones always, others now and then; `forced` always, as given. */
function validObject(
  schema: JsonSchema,
  options: ArbitraryOptions,
  path: string,
  forced?: { key: string; value: fc.Arbitrary<Json> },
): fc.Arbitrary<Json> {
  const properties = Object.entries(schema.properties ?? {});
  if (properties.length === 0) {
    const values = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {};
    const entry = (value: fc.Arbitrary<Json>) => fc.tuple(fc.string({ maxLength: 12 }), value);
    const entries =
      schema.additionalProperties === false
        ? fc.constant([])
        : fc.array(entry(arbitraryOf(values, options, at(path, '*'))), { maxLength: 4 });
    const extra = forced ? entry(forced.value).map((e) => [e]) : fc.constant([]);
    return fc.tuple(entries, extra).map(([e, more]) => new JsonObject([...e, ...more]));
  }
  const fields = properties.map(([key, property]) => {
    if (forced?.key === key) return forced.value.map((v) => [[key, v] as const]);
    const value = arbitraryOf(property, options, at(path, key)).map((v) => [[key, v] as const]);
    return schema.required?.includes(key) ? value : fc.option(value, { nil: [] });
  });
  return fc.tuple(...fields).map((parts) => new JsonObject(parts.flat()));
}

/** Every node of a schema, by its path of keys ('*' for a map's values, '0' for an array's items). */
function nodesOf(schema: JsonSchema, resolve: Resolve, path: string[] = []): string[][] {
  schema = resolve(schema);
  const inner = [
    ...Object.entries(schema.properties ?? {}).flatMap(([key, s]) => nodesOf(s, resolve, [...path, key])),
    ...(schema.items ? nodesOf(schema.items, resolve, [...path, '0']) : []),
    ...(typeof schema.additionalProperties === 'object'
      ? nodesOf(schema.additionalProperties, resolve, [...path, '*'])
      : []),
  ];
  return [path, ...inner];
}

/** A valid value but for one node of the schema, each node as likely as any other, which is hostile. */
export function oneHostileOf(schema: JsonSchema, options: ArbitraryOptions): fc.Arbitrary<Json> {
  const valid = { ...options, hostileOneIn: undefined };
  return fc.constantFrom(...nodesOf(schema, options.resolve)).chain((node) => withHostileAt(schema, valid, node, ''));
}

function withHostileAt(
  schema: JsonSchema,
  options: ArbitraryOptions,
  rest: string[],
  path: string,
): fc.Arbitrary<Json> {
  schema = options.resolve(schema);
  const [key, ...deeper] = rest;
  if (key === undefined) return hostileOf(schema, options, path);
  if (key === '0' && schema.items) {
    const item = withHostileAt(schema.items, options, deeper, at(path, '0'));
    return fc.tuple(validOf(schema, options, path), item, fc.nat()).map(([items, bad, i]) => {
      const list = [...(items as Json[])];
      list.splice(i % (list.length + 1), 0, bad);
      return list;
    });
  }
  const property = key === '*' ? schema.additionalProperties : schema.properties?.[key];
  const value = withHostileAt(property as JsonSchema, options, deeper, at(path, key));
  return validObject(schema, options, path, { key, value });
}

/** Values meant to be refused, or to be handled with care; the most telling for the schema's type first. */
export function hostileOf(schema: JsonSchema, options: ArbitraryOptions, path = ''): fc.Arbitrary<Json> {
  schema = options.resolve(schema);
  const types = typesOf(schema) ?? [];
  const is = (...which: JsonType[]) => which.some((t) => types.includes(t));
  const choices: fc.WeightedArbitrary<Json>[] = [
    { weight: 2, arbitrary: wrongType() },
    { weight: is('integer', 'number') ? 6 : 1, arbitrary: hostileNumbers(schema) },
    { weight: is('string') || types.length === 0 ? 6 : 1, arbitrary: hostileStrings(schema) },
    { weight: 1, arbitrary: deeplyNested() },
  ];
  if (is('object')) {
    choices.push({ weight: 4, arbitrary: withUnknownKeys(schema, options, path) });
    if (schema.properties) choices.push({ weight: 3, arbitrary: withDuplicateKey(schema, options, path) });
  }
  if (is('array') && schema.items) {
    const item = validOf(schema.items, options, at(path, '0'));
    const tooMany = (schema.maxItems ?? 10_000) + 1;
    choices.push(
      { weight: 2, arbitrary: item.map((v) => Array.from({ length: tooMany }, () => v)) },
      { weight: 1, arbitrary: fc.constant([]) },
      {
        weight: 3,
        arbitrary: fc.array(hostileOf(schema.items, options, at(path, '0')), { minLength: 1, maxLength: 3 }),
      },
    );
  }
  return fc.oneof(...choices);
}

function withUnknownKeys(schema: JsonSchema, options: ArbitraryOptions, path: string): fc.Arbitrary<Json> {
  const key = fc.oneof(fc.constantFrom(...UNKNOWN_KEYS), fc.string({ minLength: 1, maxLength: 16 }));
  const extras = fc.array(fc.tuple(key, freeForm()), { minLength: 1, maxLength: 3 });
  return fc
    .tuple(validObject(schema, options, path), extras)
    .map(([object, more]) => new JsonObject([...(object as JsonObject).entries, ...more]));
}

/** The same key twice, the hostile value first or last: JSON.parse keeps the last. */
function withDuplicateKey(schema: JsonSchema, options: ArbitraryOptions, path: string): fc.Arbitrary<Json> {
  const keys = Object.keys(schema.properties!);
  return fc
    .tuple(validObject(schema, options, path), fc.constantFrom(...keys), fc.boolean())
    .chain(([object, key, hostileLast]) => {
      const property = schema.properties![key]!;
      const pair = fc.tuple(validOf(property, options, at(path, key)), hostileOf(property, options, at(path, key)));
      return pair.map(([good, bad]) => {
        const rest = (object as JsonObject).entries.filter(([k]) => k !== key);
        const [first, last] = hostileLast ? [good, bad] : [bad, good];
        return new JsonObject([[key, first], ...rest, [key, last]]);
      });
    });
}
