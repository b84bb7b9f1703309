import { describe, expect, it } from 'vitest';
import { findToken, generateToken, sha256Hex } from './auth.js';
import { grants } from './scopes.js';

describe('tokens', () => {
  it('are random, prefixed, and found only by their own SHA-256', async () => {
    const [a, b] = [generateToken(), generateToken()];
    expect(a).toMatch(/^smk_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    const entries = [
      { name: 'a', sha256: await sha256Hex(a), scopes: ['read' as const] },
      { name: 'b', sha256: await sha256Hex(b), scopes: ['run' as const] },
    ];
    expect((await findToken(b, entries))?.name).toBe('b');
    expect(await findToken(`${a}x`, entries)).toBeUndefined();
    expect(await findToken(entries[0]!.sha256, entries)).toBeUndefined(); // the hash itself is not a token
  });

  it('hash like sha256sum does', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('scopes', () => {
  it('grant what they name, and apply also grants run', () => {
    expect(grants(['read'], 'read')).toBe(true);
    expect(grants(['read'], 'run')).toBe(false);
    expect(grants(['run'], 'apply')).toBe(false);
    expect(grants(['apply'], 'run')).toBe(true);
    expect(grants(['apply'], 'read')).toBe(false);
  });
});
