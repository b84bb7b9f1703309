import { MAX_BODY_BYTES } from '../../src/app.js';
import type { FieldError } from '../../src/http/problems.js';
import { grants, type Scope } from '../../src/http/scopes.js';
import { TOKEN_SCOPES, type TokenName } from './app.js';
import { bodySchemaOf, parametersOf, type FuzzRequest } from './fuzz-requests.js';
import { judge, resolverOf, type Resolve } from './json-schema.js';

/**
 * What the published document says the answer to a request must be, and the check of an answer
 * against it. Judged from the request's bytes as the server reads them, never from how the
 * request was generated.
 */
export interface FieldRef {
  in: FieldError['in'];
  field: string;
}

export interface Expectation {
  /** Exactly this status: auth, media type, size. */
  status?: number;
  /** Something is invalid: the answer is a 4xx, and a 400 names every field here. */
  invalid: FieldRef[];
  /** Allowed by the document, yet a 400 may refuse it, naming it (a NUL, a duplicate key). */
  suspect: FieldRef[];
  /** The path no longer names this endpoint (an empty or dot segment): any problem goes. */
  rerouted?: boolean;
}

/** Hono's decoding of a query or path component: invalid escapes stay as they are. */
function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (match) => {
      try {
        return decodeURIComponent(match);
      } catch {
        return match;
      }
    });
  }
}

/** A query value is text: an integer is its digits; one Number() still reads (` 5`, `0x10`) is suspect. */
function judgeQueryValue(schema: Parameters<typeof judge>[0], text: string, resolve: Resolve) {
  const resolved = resolve(schema);
  if (resolved.type !== 'integer') return judge(resolved, text, resolve);
  if (/^-?\d+$/.test(text)) return judge(resolved, Number(text), resolve);
  const lenient = judge(resolved, text.trim() === '' ? NaN : Number(text), resolve);
  return lenient.invalid.length === 0 ? { invalid: [], suspect: [''] } : { invalid: [''], suspect: [] };
}

const JSON_MEDIA_TYPE = /^application\/json\s*(;\s*[\w-]+=[^;]+)*$/i;
const NOT_JSON = /^(text\/plain|application\/x-www-form-urlencoded|multipart\/form-data|application\/jsonx)\b/i;

export function expectationOf(document: unknown, request: FuzzRequest): Expectation {
  const resolve = resolverOf(document);
  const { endpoint } = request;
  const expectation: Expectation = { invalid: [], suspect: [] };
  // An empty or dot segment makes the URL another path: another endpoint, or none.
  const segments = Object.values(request.pathValues);
  if (segments.some((raw) => raw === '' || /^(\.|%2e){1,2}$/i.test(raw))) return { ...expectation, rerouted: true };
  // The body limit comes first, before the token is even read.
  if (request.body !== undefined && new TextEncoder().encode(request.body).length > MAX_BODY_BYTES) {
    return { ...expectation, status: 413 };
  }
  // Secured when every security requirement names a scheme; an empty one (`{}`) lets anyone in.
  const requirements = endpoint.operation?.security ?? [];
  const secured = requirements.length > 0 && requirements.every((r) => Object.keys(r).length > 0);
  // The Slack door takes Slack's signature, which no fuzzed request carries: 401, whatever the token.
  if (requirements.some((r) => 'slackSignature' in r)) return { ...expectation, status: 401 };
  if (secured && (request.caller === 'none' || request.caller === 'junk')) return { ...expectation, status: 401 };
  // The README's endpoint table: a GET needs `read`, every POST at least `run`; checked before the input.
  // /mcp lets any known token in: each of its tools is a request of its own, with that request's scope.
  // An operation whose requirement names a role (`bearerAuth: ['apply']`, /rehearse) needs that one.
  const named = requirements
    .flatMap((r) => Object.values(r).flat())
    .find((role): role is Scope => typeof role === 'string');
  const scope: Scope | 'any' =
    endpoint.path === '/mcp' ? 'any' : (named ?? (endpoint.method === 'GET' ? 'read' : 'run'));
  if (secured && scope !== 'any' && !grants(TOKEN_SCOPES[request.caller as TokenName], scope))
    return { ...expectation, status: 403 };

  for (const parameter of parametersOf(endpoint, 'path')) {
    const raw = request.pathValues[parameter.name]!;
    const verdict = judge(parameter.schema, decodeComponent(raw), resolve);
    if (verdict.invalid.length > 0) expectation.invalid.push({ in: 'path', field: parameter.name });
    else if (verdict.suspect.length > 0) expectation.suspect.push({ in: 'path', field: parameter.name });
  }

  const declaredQuery = parametersOf(endpoint, 'query');
  if (declaredQuery.length > 0) {
    const values = new Map<string, string[]>();
    for (const pair of request.query.split('&')) {
      const [name, ...rest] = pair.split('=');
      const key = decodeComponent(name!.replace(/\+/g, ' '));
      if (key === '') continue; // Hono skips a nameless pair
      values.set(key, [...(values.get(key) ?? []), decodeComponent(rest.join('=').replace(/\+/g, ' '))]);
    }
    for (const [name, texts] of values) {
      const parameter = declaredQuery.find((p) => p.name === name);
      const field: FieldRef = { in: 'query', field: name };
      if (!parameter) expectation.invalid.push(field);
      else if (texts.length > 1)
        expectation.suspect.push(field); // form style: a list, for a scalar
      else {
        const verdict = judgeQueryValue(parameter.schema, texts[0]!, resolve);
        if (verdict.invalid.length > 0) expectation.invalid.push(field);
        else if (verdict.suspect.length > 0) expectation.suspect.push(field);
      }
    }
  }

  const schema = bodySchemaOf(endpoint);
  const contentType = request.headers['Content-Type'];
  const whole = { in: 'body', field: '(body)' } as const;
  if (!schema) return expectation;
  if (request.body === undefined || request.body.trim() === '') {
    // No body says "the defaults"; with a JSON media type it may also be read as empty JSON, a 400.
    return contentType === undefined ? expectation : { ...expectation, suspect: [whole] };
  }
  if (contentType === undefined || NOT_JSON.test(contentType)) return { ...expectation, status: 415 };
  if (!JSON_MEDIA_TYPE.test(contentType)) return { ...expectation, rerouted: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body.replace(/^\uFEFF/, '')); // a UTF-8 decoder drops the byte order mark
  } catch {
    return { ...expectation, status: 400, invalid: [whole] };
  }
  const verdict = judge(schema, parsed, resolve);
  const inBody = (field: string): FieldRef => ({ in: 'body', field: field === '' ? '(body)' : field });
  expectation.invalid.push(...verdict.invalid.map(inBody));
  expectation.suspect.push(...verdict.suspect.map(inBody), ...request.duplicateKeys.map(inBody));
  return expectation;
}

/** One field names the other, or a part of it: `params` and `params.protocol`. */
function related(a: FieldRef, b: FieldRef): boolean {
  if (a.in !== b.in) return false;
  if (a.field === b.field) return true;
  if (a.field === '(body)' || b.field === '(body)') return false;
  return a.field.startsWith(`${b.field}.`) || b.field.startsWith(`${a.field}.`);
}

export interface AnswerRules {
  /** Statuses the endpoint may answer at all (its documented responses). */
  statuses: number[];
  /** Fields a document-valid body may still be refused on, by rules the schema does not state. */
  proseRules?: string[];
}

/** Why the answer breaks the document, or undefined when it keeps it. */
export async function answerProblem(
  expectation: Expectation,
  rules: AnswerRules,
  response: Response,
): Promise<string | undefined> {
  const text = await response.text();
  const excerpt = `${response.status} ${response.headers.get('content-type')}: ${text.slice(0, 500)}`;
  const { status } = response;
  if (status >= 500) return `a server error: ${excerpt}`;
  if (status === 499) return `a cancel nobody asked for: ${excerpt}`;
  if (expectation.rerouted) return status >= 400 ? problemShape(response, text, excerpt) : undefined;
  if (!rules.statuses.includes(status))
    return `status ${status} is not documented (${rules.statuses.join(', ')}): ${excerpt}`;
  if (expectation.status !== undefined && status !== expectation.status) {
    return `expected ${expectation.status}: ${excerpt}`;
  }
  if (status < 400) {
    if (expectation.invalid.length > 0)
      return `accepted a request the document refuses (${names(expectation.invalid)}): ${excerpt}`;
    return undefined;
  }
  const shape = problemShape(response, text, excerpt);
  if (shape || status !== 400) return shape;

  const errors = (JSON.parse(text) as { errors?: FieldError[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return `a 400 that names no field: ${excerpt}`;
  const malformed = errors.find(
    (e) =>
      typeof e.field !== 'string' ||
      e.field === '' ||
      !['body', 'query', 'path', 'header'].includes(e.in) ||
      !e.message,
  );
  if (malformed) return `a field error without field, place or message (${JSON.stringify(malformed)}): ${excerpt}`;
  const unnamed = expectation.invalid.filter((f) => !errors.some((e) => related(e, f)));
  if (unnamed.length > 0) return `the 400 does not name ${names(unnamed)}: ${excerpt}`;
  const allowed = [
    ...expectation.invalid,
    ...expectation.suspect,
    ...(rules.proseRules ?? []).map((field) => ({ in: 'body' as const, field })),
  ];
  const spurious = errors.filter((e) => !allowed.some((f) => related(e, f)));
  if (spurious.length > 0) return `the 400 refuses what the document allows (${names(spurious)}): ${excerpt}`;
  return undefined;
}

const names = (fields: FieldRef[]) => fields.map((f) => `${f.in} ${JSON.stringify(f.field)}`).join(', ');

/** RFC 9457 as docs/operations.md promises it: problem+json with type, title, status, detail. */
function problemShape(response: Response, text: string, excerpt: string): string | undefined {
  if (response.headers.get('content-type') !== 'application/problem+json') return `not problem+json: ${excerpt}`;
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `a problem that is not JSON: ${excerpt}`;
  }
  const { type, title, status, detail } = problem;
  if (typeof type !== 'string' || !type.startsWith('urn:sark-migrate:problem:')) return `no problem type: ${excerpt}`;
  if (typeof title !== 'string' || title === '' || typeof detail !== 'string' || detail === '') {
    return `a problem without title or detail: ${excerpt}`;
  }
  if (status !== response.status) return `the problem's status is not the answer's: ${excerpt}`;
  return undefined;
}
