import { describe, expect, it } from 'vitest';
import { distribution } from '../../measure/stats.js';
import type { Measurement } from '../benchmark.js';
import { verdict } from './apply.js';

const runs = (...ms: number[]) => ({ roundTripMs: distribution(ms) }) as Measurement;

describe('verdict', () => {
  it('calls a change faster or slower only when the runs barely overlap, however small the times', () => {
    expect(verdict(runs(0.9, 0.95, 1.0, 0.92, 0.97), runs(0.1, 0.12, 0.11, 0.1, 0.13))).toBe('faster'); // sub-millisecond, ten times faster
    expect(verdict(runs(10, 11, 10.5, 10.2, 10.8), runs(30, 31, 29, 32, 30.5))).toBe('slower');
    expect(verdict(runs(10, 11, 10.5, 10.2, 30), runs(9, 10.4, 10.1, 9.8, 10.3))).toBe('no measurable change'); // within the noise
    expect(verdict(runs(10, 10.1, 10.2, 10.1, 10.3), runs(9.5, 9.6, 9.55, 9.5, 9.6))).toBe('no measurable change'); // apart, but under 20%
    expect(verdict({ roundTripMs: null } as Measurement, runs(1))).toBe('not measured');
  });
});
