import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { SlackConfig } from './http/context.js';
import { targetProblem } from './notify/send.js';
import { isPoolerHost, type DatabaseTarget, type NeonPricing } from './operations/preflight/target.js';
import { secretProblem } from './notify/webhook.js';
import { slackPrincipalSchema, tokenEntrySchema, type SlackPrincipal, type TokenEntry } from './http/scopes.js';

/** The only reader of raw configuration: environment variables on Node, vars and secrets on Workers. */

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const postgresUrl = z
  .string()
  .trim()
  .refine(
    (value) => /^postgres(ql)?:\/\//.test(value) && URL.canParse(value),
    'must be a postgres:// or postgresql:// URL',
  )
  // Neon's pooler is PgBouncer in transaction mode: a session-level advisory lock does not hold there.
  .refine(
    // A postgres:// URL keeps its host's case (it is not a special scheme): compare it lowercased.
    (value) => !URL.canParse(value) || !isPoolerHost(new URL(value).hostname),
    "must name Neon's direct host, not its -pooler host: the advisory lock needs a session of its own",
  )
  .optional()
  .or(z.literal('').transform(() => undefined));

/** A JSON array in one variable, each entry checked by `entry`; unset or blank: undefined. */
const jsonArrayOf = <T extends z.ZodType>(entry: T, shape: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx): z.infer<T>[] | undefined => {
      if (raw === undefined || raw.trim() === '') return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a JSON array of ${shape}` });
        return z.NEVER;
      }
      const result = z.array(entry).safeParse(parsed);
      if (!result.success) {
        for (const issue of result.error.issues)
          ctx.addIssue({ code: 'custom', message: `[${issue.path.join('.')}] ${issue.message}` });
        return z.NEVER;
      }
      return result.data;
    });

const apiTokens = jsonArrayOf(tokenEntrySchema, '{"name","sha256","scopes"}');
const slackPrincipals = jsonArrayOf(slackPrincipalSchema, '{"team","user","scopes"}');

const flag = z
  .enum(['true', 'false', ''])
  .optional()
  .transform((value) => value === 'true');

const wsProxy = optionalString.refine(
  (v) => v === undefined || /^(wss?:\/\/)?[^\s/]+(\/\S*)?$/.test(v),
  'must be host:port[/path] or ws://host:port[/path]',
);

/** Neon's prices for /preflight's cost estimate (defaults: NEON_PRICING_DEFAULTS, docs/preflight.md). */
const numberFrom = (min: number, max: number) =>
  optionalString
    .refine(
      (v) => v === undefined || (Number.isFinite(Number(v)) && Number(v) >= min && Number(v) <= max),
      `must be a number from ${min} to ${max}`,
    )
    .transform((v) => (v === undefined ? undefined : Number(v)));
const neonPrices = {
  NEON_COMPUTE_CU: numberFrom(0.25, 64),
  NEON_CU_HOUR_USD: numberFrom(0, 1000),
  NEON_STORAGE_GB_MONTH_USD: numberFrom(0, 1000),
};

/** The Slack door and the notifications: the same names on Node and on Workers. */
const chatops = {
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_PRINCIPALS: slackPrincipals,
  NOTIFY_ALLOW_PRIVATE: flag,
  NOTIFY_URL: optionalString.refine((v) => v === undefined || URL.canParse(v), 'must be a URL'),
  NOTIFY_SECRET: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : secretProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
};
/** Rehearsals on Neon (POST /rehearse): a branch of the database's branch through Neon's API. */
const neonApi = {
  NEON_API_KEY: optionalString,
  NEON_PROJECT_ID: optionalString.refine(
    (v) => v === undefined || /^[a-z0-9-]{1,60}$/.test(v),
    'must be a Neon project id',
  ),
  NEON_BRANCH_ID: optionalString.refine(
    (v) => v === undefined || /^[a-z0-9-]{1,60}$/.test(v),
    'must be a Neon branch id',
  ),
  NEON_API_URL: optionalString.refine((v) => v === undefined || URL.canParse(v), 'must be a URL'),
};

/** NEON_API_KEY and NEON_PROJECT_ID together: where a rehearsal makes its branch. */
export interface NeonApiConfig {
  apiKey: string;
  projectId: string;
  branchId: string | undefined;
  apiUrl: string | undefined;
}

function neonApiConfig(c: {
  NEON_API_KEY?: string | undefined;
  NEON_PROJECT_ID?: string | undefined;
  NEON_BRANCH_ID?: string | undefined;
  NEON_API_URL?: string | undefined;
}): NeonApiConfig | undefined {
  if (!c.NEON_API_KEY && !c.NEON_PROJECT_ID) return undefined;
  if (!c.NEON_API_KEY || !c.NEON_PROJECT_ID)
    throw new ConfigError(
      `Invalid configuration:\n  ${c.NEON_API_KEY ? 'NEON_PROJECT_ID' : 'NEON_API_KEY'}: needed with ${c.NEON_API_KEY ? 'NEON_API_KEY' : 'NEON_PROJECT_ID'} (rehearsals on Neon branches)`,
    );
  return { apiKey: c.NEON_API_KEY, projectId: c.NEON_PROJECT_ID, branchId: c.NEON_BRANCH_ID, apiUrl: c.NEON_API_URL };
}

// Signs the dashboard's session cookies (HMAC-SHA256): 32 characters at least, like a random key.
const dashboardSecret = optionalString.refine(
  (v) => v === undefined || v.length >= 32,
  'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
);

const nodeSchema = z.object({
  DATABASE_URL: postgresUrl,
  API_TOKENS: apiTokens,
  WS_PROXY: wsProxy,
  ...chatops,
  ...neonApi,
  DASHBOARD_SECRET: dashboardSecret,
  ...neonPrices,
  REPORTS_DIR: z.string().trim().min(1).default('.sark-migrate/reports'),
  PGLITE_DIR: z.string().trim().min(1).default('.sark-migrate/pglite'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  // How long a dead process's lease keeps other changing runs out (and when its run is abandoned).
  LEASE_TTL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
});

const workerSchema = z.object({
  DATABASE_URL: postgresUrl,
  API_TOKENS: apiTokens,
  WS_PROXY: wsProxy,
  ...chatops,
  ...neonApi,
  DASHBOARD_SECRET: dashboardSecret,
  ...neonPrices,
});

/** Where the configuration comes into the chat door and the notifications. */
export interface ChatopsConfig {
  slack: SlackConfig | undefined;
  /** NOTIFY_ALLOW_PRIVATE: notifications may go to any http(s) URL, private addresses included. */
  notifyAllowPrivate: boolean;
  /** NOTIFY_URL: where an async run's end is posted when its request names no `notify`. */
  notifyUrl: string | undefined;
  /** NOTIFY_SECRET (`whsec_…`): signs notifications; without it, `notify` is refused. */
  notifySecret: string | undefined;
}

function chatopsConfig(c: {
  SLACK_SIGNING_SECRET?: string | undefined;
  SLACK_PRINCIPALS?: SlackPrincipal[] | undefined;
  NOTIFY_ALLOW_PRIVATE: boolean;
  NOTIFY_URL?: string | undefined;
  NOTIFY_SECRET?: string | undefined;
}): ChatopsConfig {
  // Checked together: a default target nobody could authenticate, or one the policy refuses, is a mistake.
  if (c.NOTIFY_URL && !c.NOTIFY_SECRET)
    throw new ConfigError('Invalid configuration:\n  NOTIFY_URL: needs NOTIFY_SECRET to sign what it is sent');
  const problem =
    c.NOTIFY_URL && targetProblem(c.NOTIFY_URL, { host: 'any' }, { allowPrivate: c.NOTIFY_ALLOW_PRIVATE });
  if (problem) throw new ConfigError(`Invalid configuration:\n  NOTIFY_URL: ${problem}`);
  return {
    notifyUrl: c.NOTIFY_URL,
    notifySecret: c.NOTIFY_SECRET,
    slack: c.SLACK_SIGNING_SECRET
      ? { signingSecret: c.SLACK_SIGNING_SECRET, principals: c.SLACK_PRINCIPALS ?? [] }
      : undefined,
    notifyAllowPrivate: c.NOTIFY_ALLOW_PRIVATE,
  };
}

export interface NodeConfig extends ChatopsConfig {
  databaseUrl: string | undefined;
  /** NEON_COMPUTE_CU, NEON_CU_HOUR_USD, NEON_STORAGE_GB_MONTH_USD, those set. */
  neonPricing: Partial<NeonPricing>;
  apiTokens: TokenEntry[] | undefined;
  wsProxy: string | undefined;
  dashboardSecret: string | undefined;
  reportsDir: string;
  pgliteDir: string;
  port: number;
  host: string;
  leaseTtlMs: number;
  /** NEON_API_KEY, NEON_PROJECT_ID (NEON_BRANCH_ID, NEON_API_URL): rehearsals on Neon branches. */
  neonApi: NeonApiConfig | undefined;
}

export interface WorkerConfig extends ChatopsConfig {
  databaseUrl: string | undefined;
  neonPricing: Partial<NeonPricing>;
  apiTokens: TokenEntry[] | undefined;
  wsProxy: string | undefined;
  dashboardSecret: string | undefined;
  neonApi: NeonApiConfig | undefined;
}

function parse<T extends z.ZodType>(schema: T, raw: Record<string, unknown>): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    // Name the variable and the rule, never the value: it may be a secret.
    const lines = result.error.issues.map((issue) => `${issue.path.join('.') || 'configuration'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

export function readNodeConfig(env: Record<string, string | undefined>): NodeConfig {
  const c = parse(nodeSchema, env);
  return {
    databaseUrl: c.DATABASE_URL,
    neonPricing: neonPricingOf(c),
    apiTokens: c.API_TOKENS,
    wsProxy: c.WS_PROXY,
    dashboardSecret: c.DASHBOARD_SECRET,
    reportsDir: c.REPORTS_DIR,
    pgliteDir: c.PGLITE_DIR,
    port: c.PORT,
    host: c.HOST,
    leaseTtlMs: c.LEASE_TTL_MS,
    neonApi: neonApiConfig(c),
    ...chatopsConfig(c),
  };
}

export function readWorkerConfig(bindings: Record<string, unknown>): WorkerConfig {
  const c = parse(workerSchema, bindings);
  return {
    databaseUrl: c.DATABASE_URL,
    neonPricing: neonPricingOf(c),
    apiTokens: c.API_TOKENS,
    wsProxy: c.WS_PROXY,
    dashboardSecret: c.DASHBOARD_SECRET,
    neonApi: neonApiConfig(c),
    ...chatopsConfig(c),
  };
}

function neonPricingOf(c: {
  NEON_COMPUTE_CU?: number | undefined;
  NEON_CU_HOUR_USD?: number | undefined;
  NEON_STORAGE_GB_MONTH_USD?: number | undefined;
}): Partial<NeonPricing> {
  return {
    ...(c.NEON_COMPUTE_CU === undefined ? {} : { computeCu: c.NEON_COMPUTE_CU }),
    ...(c.NEON_CU_HOUR_USD === undefined ? {} : { cuHourUsd: c.NEON_CU_HOUR_USD }),
    ...(c.NEON_STORAGE_GB_MONTH_USD === undefined ? {} : { storageGbMonthUsd: c.NEON_STORAGE_GB_MONTH_USD }),
  };
}

/** What /preflight is told of the database: the host DATABASE_URL names (null: embedded), Neon, its prices. */
export function databaseTargetOf(config: {
  databaseUrl: string | undefined;
  neonPricing: Partial<NeonPricing>;
}): DatabaseTarget {
  const url = config.databaseUrl;
  return {
    host: url ? new URL(url).hostname : null,
    neon: url ? isNeonUrl(url) : false,
    neonPricing: config.neonPricing,
  };
}

/** Neon's own hosts speak the Neon driver's WebSocket protocol; any other host gets pg. */
export function isNeonUrl(databaseUrl: string): boolean {
  const host = new URL(databaseUrl).hostname;
  return /\.neon\.(tech|build)$/.test(host);
}
