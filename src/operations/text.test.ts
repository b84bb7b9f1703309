import { describe, expect, it } from 'vitest';
import { count } from './text.js';

describe('count', () => {
  it('says one thing, and any other number of things', () => {
    expect(count(1, 'capability', 'capabilities')).toBe('1 capability');
    expect(count(0, 'capability', 'capabilities')).toBe('0 capabilities');
    expect(count(2, 'server')).toBe('2 servers');
  });
});
