import { OpenAPIHono, type Hook } from '@hono/zod-openapi';
import type { AppDeps } from '../operations/deps.js';
import type { Runtime, SlackConfig } from './context.js';
import { HttpProblem, problemResponse, type FieldError } from './problems.js';
import type { TokenEntry } from './scopes.js';

export interface AppEnv {
  Variables: {
    deps: AppDeps;
    tokens: readonly TokenEntry[] | undefined;
    runtime: Runtime;
    slack: SlackConfig | undefined;
    dashboardSecret: string | undefined;
    principal: TokenEntry;
    requestId: string;
    /** Answers a request with the whole app, as if it had come in (the MCP door's tools). */
    dispatch: (request: Request) => Promise<Response>;
    /** The form of a request Slack signed (src/http/slack.ts). */
    slackForm: URLSearchParams;
  };
}

const TARGET_TO_LOCATION: Record<string, FieldError['in']> = {
  json: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
};

/** The one validation hook: a 400 problem naming every bad field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (result.success) return;
  const location = TARGET_TO_LOCATION[result.target] ?? 'body';
  const errors: FieldError[] = result.error.issues.flatMap((issue) => {
    // An empty key is named as such wherever it stands, not left as a trailing or double dot.
    const base = issue.path.map((segment) => (segment === '' ? '(empty key)' : String(segment))).join('.');
    // An unknown key is reported under its own name, not its parent's.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: [base, key === '' ? '(empty key)' : key].filter(Boolean).join('.'),
        in: location,
        message: 'is not a known field',
      }));
    }
    return [{ field: base || '(body)', in: location, message: issue.message }];
  });
  const detail = `The request ${location} is invalid: ${errors.map((e) => e.field).join(', ')}.`;
  return problemResponse(c, new HttpProblem('bad-request', detail, { errors }));
};

/** The only place that makes an OpenAPIHono: every router shares the env type and the hook. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({ strict: false, defaultHook: validationHook });
}

export type AppRouter = ReturnType<typeof createRouter>;
