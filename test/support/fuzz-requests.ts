import fc from 'fast-check';
import type { TestApp, TokenName } from './app.js';
import { resolverOf, type JsonSchema, type Resolve } from './json-schema.js';
import { duplicateKeys, jsonText, type Json } from './json-text.js';
import { arbitraryOf, hostileOf, oneHostileOf, validOf, type ArbitraryOptions } from './schema-arbitrary.js';

/** The parts of an OpenAPI 3.1 document the fuzz reads. */
export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema: JsonSchema;
}

export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: Record<string, string[]>[];
}

export interface Endpoint {
  method: 'GET' | 'POST';
  /** The path template, `/reports/{id}`. */
  path: string;
  /** Undefined for what the service serves beside its document (/openapi.json, /docs). */
  operation: Operation | undefined;
}

/** Every operation of the document, plus the two GETs the service serves beside it. */
export function endpointsOf(document: { paths: Record<string, Record<string, Operation>> }): Endpoint[] {
  const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase() as Endpoint['method'],
      path,
      operation,
    })),
  );
  return [
    ...documented,
    { method: 'GET', path: '/openapi.json', operation: undefined },
    { method: 'GET', path: '/docs', operation: undefined },
  ];
}

export const bodySchemaOf = (endpoint: Endpoint) =>
  endpoint.operation?.requestBody?.content['application/json']?.schema;
export const parametersOf = (endpoint: Endpoint, where: Parameter['in']) =>
  (endpoint.operation?.parameters ?? []).filter((p) => p.in === where);

/** Who asks: a test app's token by name, none at all, or one the service never issued. */
export type Caller = TokenName | 'none' | 'junk';

export interface FuzzRequest {
  endpoint: Endpoint;
  method: string;
  caller: Caller;
  /** Raw path segment per path parameter, as sent. */
  pathValues: Record<string, string>;
  /** The raw query text, without `?`. */
  query: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** Keys the body names twice (JSON.parse keeps the last). */
  duplicateKeys: string[];
}

export function urlOf(request: FuzzRequest): string {
  const path = request.endpoint.path.replace(/\{(\w+)\}/g, (_, name: string) => request.pathValues[name]!);
  return request.query ? `${path}?${request.query}` : path;
}

const JUNK_AUTHORIZATION = ['Bearer smk_not-a-token', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', 'Bearer a b', 'bearer'];

/** Sends a request to the app in process, its bytes exactly as generated. */
export async function send(t: TestApp, request: FuzzRequest): Promise<Response> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.caller !== 'none' && request.caller !== 'junk')
    headers.Authorization = `Bearer ${t.tokens[request.caller]}`;
  return t.app.request(urlOf(request), {
    method: request.method,
    headers,
    ...(request.body === undefined ? {} : { body: request.body }),
  });
}

/** A line a person can read in a failure: no 100 kB bodies. */
export function describeRequest(request: FuzzRequest): string {
  const excerpt = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}... (${text.length} chars)` : text);
  const headers = Object.entries(request.headers).map(([k, v]) => ` -H ${JSON.stringify(`${k}: ${excerpt(v)}`)}`);
  const body = request.body === undefined ? '' : ` --data ${JSON.stringify(excerpt(request.body))}`;
  return `${request.method} ${excerpt(urlOf(request))} as ${request.caller}${headers.join('')}${body}`;
}

/** Whatever JSON a value is, as the text of a query or path parameter. */
const asParameterText = (value: Json) => (typeof value === 'string' ? value : jsonText(value));
/** Percent-encoded; a lone surrogate cannot be encoded, so it goes as U+FFFD, as a browser sends it. */
const encoded = (text: string) =>
  encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
/** Raw bytes no encoder would write: NUL, bad escapes, overlong and surrogate UTF-8, separators. */
const RAW_PARAMETER_TEXT = [
  '%00',
  '%ZZ',
  '%',
  '%ED%A0%80',
  '%C0%AF',
  '%FF',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '+',
  '%2B1',
];

function parameterValue(schema: JsonSchema, options: ArbitraryOptions, name: string, known: string[] = []) {
  const choices: fc.WeightedArbitrary<string>[] = [
    { weight: 6, arbitrary: validOf(schema, options, name).map((v) => encoded(asParameterText(v))) },
    { weight: 3, arbitrary: hostileOf(schema, options, name).map((v) => encoded(asParameterText(v))) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_PARAMETER_TEXT) },
  ];
  if (known.length > 0) choices.push({ weight: 6, arbitrary: fc.constantFrom(...known) });
  return fc.oneof(...choices);
}

function queryText(endpoint: Endpoint, options: ArbitraryOptions): fc.Arbitrary<string> {
  const declared = parametersOf(endpoint, 'query').map((p) =>
    fc.option(
      fc
        .array(parameterValue(p.schema, options, p.name), { minLength: 1, maxLength: 2 })
        .map((values) => values.map((v) => `${p.name}=${v}`).join('&')),
      { nil: '', freq: 2 },
    ),
  );
  const unknown = fc.option(
    fc.oneof(
      fc
        .tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }))
        .map(([k, v]) => `${encoded(k)}=${encoded(v)}`),
      fc.constantFrom('&&', '=', '=x', '%ZZ=1', 'limit', 'kind[]=x', '__proto__=1', `x=${'y'.repeat(10_000)}`),
    ),
    { nil: '', freq: 4 },
  );
  return fc.tuple(...declared, unknown).map((parts) => parts.filter((p) => p !== '').join('&'));
}

const HOSTILE_HEADER_VALUES = [
  'RESPOND-ASYNC',
  'respond-async, wait=0',
  'respond-async;x=1',
  'wait=-1',
  'x'.repeat(8_000),
  '\u00ff',
];

function headerValues(endpoint: Endpoint): fc.Arbitrary<Record<string, string>> {
  const declared = parametersOf(endpoint, 'header').map((p) =>
    fc
      .option(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant('respond-async') },
          { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
          { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_HEADER_VALUES) },
        ),
        { nil: undefined, freq: 3 },
      )
      .map((value) => (value === undefined ? {} : { [p.name]: value })),
  );
  return fc.tuple(fc.constant({}), ...declared).map((parts) => Object.assign({}, ...parts) as Record<string, string>);
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/vnd.sark+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/json; charset',
];

const MALFORMED_JSON = [
  '{',
  '{"dryRun":',
  '{"a":1,}',
  "{'dryRun':true}",
  'undefined',
  'NaN',
  '\u0000',
  '{}garbage',
  '[1,2',
  '\uFEFF{}',
  '',
  ' ',
];

/** Over the service's 1 MB limit. */
const OVERSIZE = `{"x":"${'a'.repeat(1024 * 1024 + 16)}"}`;

interface Body {
  text: string | undefined;
  contentType: string | undefined;
  duplicateKeys: string[];
}

function bodyOf(schema: JsonSchema, options: ArbitraryOptions): fc.Arbitrary<Body> {
  type Text = Omit<Body, 'contentType'>;
  const json = (value: Json): Text => ({ text: jsonText(value), duplicateKeys: duplicateKeys(value) });
  const text = fc.oneof<fc.WeightedArbitrary<Text>[]>(
    { weight: 3, arbitrary: validOf(schema, { ...options, hostileOneIn: undefined }).map(json) },
    { weight: 10, arbitrary: oneHostileOf(schema, options).map(json) },
    { weight: 3, arbitrary: arbitraryOf(schema, options).map(json) },
    { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_JSON).map((t) => ({ text: t, duplicateKeys: [] })) },
    { weight: 1, arbitrary: fc.constant({ text: undefined, duplicateKeys: [] }) },
    { weight: 1, arbitrary: fc.constant({ text: OVERSIZE, duplicateKeys: [] }) },
  );
  const contentType = fc.oneof(
    { weight: 20, arbitrary: fc.constant('application/json') },
    { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc.tuple(text, contentType).map(([t, contentType]) => ({ ...t, contentType }));
}

export interface RequestOptions {
  /** Who asks, with weights. */
  callers: [Caller, number][];
  /** Report ids that exist, so path parameters name real reports too. */
  knownIds: string[];
  /** In the share of bodies that mix them in at every level, one value in this many is hostile. */
  hostileOneIn?: number;
  /** The largest valid value to make for costly integer fields of the body (dotted paths). */
  cheap?: Record<string, number>;
  /** Values that exist, for string fields of the body (dotted paths): a baseline report, a plan id. */
  known?: Record<string, string[]>;
  /** Only the requests `keep` allows. */
  keep?: (request: FuzzRequest) => boolean;
}

/** Requests for one endpoint, from its parameters and body schema in the document. */
export function requestsFor(document: unknown, endpoint: Endpoint, options: RequestOptions): fc.Arbitrary<FuzzRequest> {
  const resolve: Resolve = resolverOf(document);
  const arbitraryOptions: ArbitraryOptions = {
    resolve,
    hostileOneIn: options.hostileOneIn ?? 5,
    cheap: options.cheap ?? {},
    known: options.known ?? {},
  };
  const pathValues = fc.record(
    Object.fromEntries(
      parametersOf(endpoint, 'path').map((p) => [
        p.name,
        parameterValue(p.schema, arbitraryOptions, p.name, options.knownIds),
      ]),
    ),
  );
  const schema = bodySchemaOf(endpoint);
  const body: fc.Arbitrary<Body> = schema
    ? bodyOf(schema, arbitraryOptions)
    : fc.constant({ text: undefined, contentType: undefined, duplicateKeys: [] });
  const caller = fc.oneof(...options.callers.map(([c, weight]) => ({ weight, arbitrary: fc.constant(c) })));
  const requests = fc
    .record({
      caller,
      junk: fc.constantFrom(...JUNK_AUTHORIZATION),
      pathValues,
      query: queryText(endpoint, arbitraryOptions),
      headers: headerValues(endpoint),
      body,
    })
    .map(({ caller, junk, pathValues, query, headers, body }) => {
      const request: FuzzRequest = {
        endpoint,
        method: endpoint.method,
        caller,
        pathValues,
        query,
        headers: {
          ...headers,
          ...(caller === 'junk' ? { Authorization: junk } : {}),
          ...(body.contentType ? { 'Content-Type': body.contentType } : {}),
        },
        body: body.text,
        duplicateKeys: body.duplicateKeys,
      };
      return Object.assign(request, { [fc.toStringMethod]: () => describeRequest(request) });
    });
  return options.keep ? requests.filter(options.keep) : requests;
}
