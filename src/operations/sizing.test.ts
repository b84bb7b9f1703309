import { describe, expect, it } from 'vitest';
import { BatchSizer } from './sizing.js';

const policy = { first: 1_000, targetMs: 1_000, min: 100, max: 10_000 };

describe('BatchSizer', () => {
  it('keeps a size the request named, whatever the batches take', () => {
    const sizer = new BatchSizer(7, policy);
    sizer.observe(7, 10_000);
    expect(sizer.take()).toBe(7);
    expect(sizer.sizing).toEqual({ mode: 'fixed', targetMs: null, first: 7, last: 7, smallest: 7, largest: 7 });
  });

  it('moves towards the size that takes the target time, at most twofold per batch', () => {
    const sizer = new BatchSizer(undefined, policy);
    expect(sizer.take()).toBe(1_000);
    sizer.observe(1_000, 250); // 4 rows/ms: 4,000 would take 1 s
    expect(sizer.take()).toBe(2_000);
    sizer.observe(2_000, 500);
    expect(sizer.take()).toBe(4_000);
    sizer.observe(4_000, 1_000); // on target: stays
    expect(sizer.take()).toBe(4_000);
    sizer.observe(4_000, 3_000); // slower: 1,333 would take 1 s, but half is the furthest it goes
    expect(sizer.take()).toBe(2_000);
    expect(sizer.sizing).toEqual({
      mode: 'adaptive',
      targetMs: 1_000,
      first: 1_000,
      last: 2_000,
      smallest: 1_000,
      largest: 4_000,
    });
  });

  it('stays within its bounds and ignores a batch that measured nothing', () => {
    const sizer = new BatchSizer(undefined, { ...policy, first: 150 });
    sizer.observe(150, 60_000);
    expect(sizer.next).toBe(100);
    sizer.observe(0, 5);
    sizer.observe(10, 0);
    expect(sizer.next).toBe(100);
    const fast = new BatchSizer(undefined, { ...policy, first: 8_000 });
    fast.observe(8_000, 1);
    expect(fast.next).toBe(10_000);
  });
});
