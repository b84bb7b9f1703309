import { z } from '@hono/zod-openapi';

export const SCOPES = ['read', 'run', 'apply'] as const;
export type Scope = (typeof SCOPES)[number];
export const scopeSchema = z.enum(SCOPES);

/** `apply` changes the database; whoever may do that may also dry-run the same operation. */
export function grants(held: readonly Scope[], wanted: Scope): boolean {
  return held.includes(wanted) || (wanted === 'run' && held.includes('apply'));
}

export const tokenEntrySchema = z.strictObject({
  name: z.string().min(1).max(100),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64-hex-digit SHA-256 of the token')
    .transform((hex) => hex.toLowerCase()),
  scopes: z.array(scopeSchema).min(1),
});
export type TokenEntry = z.infer<typeof tokenEntrySchema>;

/** A Slack team, or one user of it, and the scopes its slash commands and clicks carry (SLACK_PRINCIPALS). */
export const slackPrincipalSchema = z.strictObject({
  team: z.string().regex(/^[TE][A-Z0-9]+$/, 'must be a Slack team id (T…)'),
  user: z
    .string()
    .regex(/^[UW][A-Z0-9]+$/, 'must be a Slack user id (U… or W…); leave it out for every user of the team')
    .optional(),
  scopes: z.array(scopeSchema).min(1),
});
export type SlackPrincipal = z.infer<typeof slackPrincipalSchema>;

/**
 * The scopes of a Slack user: those of the entry naming the user, else those of the entry for
 * the whole team; undefined for anyone else.
 */
export function slackScopes(principals: readonly SlackPrincipal[], team: string, user: string): Scope[] | undefined {
  const own = principals.find((p) => p.team === team && p.user === user);
  return (own ?? principals.find((p) => p.team === team && p.user === undefined))?.scopes;
}
