import { describe, expect, it } from 'vitest';
import type { ProbeEvaluation } from '../../reports/optimization.js';
import { priorityOf } from './priority.js';

const probe = (query: string, reduction: number, usesIndex = true): ProbeEvaluation => ({
  query,
  costBefore: 100,
  costAfter: 100 * (1 - reduction),
  reduction,
  usesIndex,
});

describe('priorityOf', () => {
  it("ranks by the planner's best saving on a query whose plan uses the index", () => {
    expect(priorityOf([probe('a', 0.95)])).toBe('high');
    expect(priorityOf([probe('a', 0.6), probe('b', 0.2)])).toBe('medium');
    expect(priorityOf([probe('a', 0.4)])).toBe('low');
    expect(priorityOf([probe('a', 0.05)])).toBe('none');
    expect(priorityOf([probe('a', 0.95, false)])).toBe('none');
  });

  it('makes a low one medium when a query it serves is over its runbook target', () => {
    expect(priorityOf([probe('slow', 0.4)], new Set(['slow']))).toBe('medium');
    expect(priorityOf([probe('slow', 0.4), probe('other', 0.2)], new Set(['other']))).toBe('medium');
  });

  it('not when the late query does not use it, saves under 10%, or is not the late one', () => {
    expect(priorityOf([probe('slow', 0.4, false)], new Set(['slow']))).toBe('none');
    expect(priorityOf([probe('slow', 0.05)], new Set(['slow']))).toBe('none');
    expect(priorityOf([probe('fast', 0.4)], new Set(['slow']))).toBe('low');
    expect(priorityOf([probe('slow', 0.95)], new Set(['slow']))).toBe('high');
  });
});
