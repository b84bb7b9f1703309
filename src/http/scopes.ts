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
