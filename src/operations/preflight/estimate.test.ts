import { describe, expect, it } from 'vitest';
import { gucMs } from './checks.js';
import { extrapolate, HIGH_MARGIN, type SampleMeasure } from './estimate.js';

/** A sample as measureSample returns it: two sub-samples of 10 servers with 90 tools, at 0.1 and 0.3 ms a row. */
const measure = (over: Partial<SampleMeasure> = {}): SampleMeasure => ({
  servers: 1_000,
  toCopy: { resources: 1_000, capabilities: 10_000, counted: 'exact' },
  schemaMs: 50,
  subSamples: [
    { resources: 10, capabilities: 90, ms: 10 }, // 0.1 ms a row
    { resources: 10, capabilities: 90, ms: 30 }, // 0.3 ms a row
  ],
  bytes: { resources: [8_192, 18_192], capabilities: [16_384, 106_384] },
  existingBytes: { resources: 0, capabilities: 0 },
  analyzeMs: 20,
  analyzeRows: 30_000,
  ...over,
});

describe('the estimate, from a measured sample', () => {
  it('extrapolates the duration: mean rate on one stream, fastest over the streams, slowest with the margin', () => {
    const { durationMs, sample } = extrapolate(measure(), 2, null);
    // 11,000 rows; ANALYZE read 200 rows in the sample, would read 11,000: × 55.
    const analyze = 20 * (11_000 / 200);
    expect(durationMs).toEqual({
      expected: Math.round(50 + 0.2 * 11_000 + analyze),
      low: Math.round(50 + (0.1 * 11_000) / 2 + analyze),
      high: Math.round(50 + 0.3 * 11_000 * HIGH_MARGIN + analyze),
    });
    expect(sample).toMatchObject({ servers: 20, rowsCopied: 200, rolledBack: true });
  });

  it('stops scaling ANALYZE at the rows it samples, and leaves it out where it was not timed', () => {
    const big = measure({ toCopy: { resources: 100_000, capabilities: 1_000_000, counted: 'estimate' } });
    const withAnalyze = extrapolate(big, 1, null).durationMs!.expected;
    const without = extrapolate({ ...big, analyzeMs: null }, 1, null).durationMs!.expected;
    expect(withAnalyze - without).toBe(Math.round(20 * (60_000 / 200)));
  });

  it('sizes v2 from the growth per row, and from what exists when v2 is there', () => {
    const created = extrapolate(measure(), 1, null).v2SizeBytes!;
    // resources grew 10,000 bytes for 20 rows: 500 a row × 1,000; the empty table's 8,192 come along.
    expect(created.resources).toEqual({ before: 0, added: 8_192 + 500_000, after: 508_192 });
    // capabilities: 90,000 bytes for 180 rows, 500 a row × 10,000.
    expect(created.capabilities).toEqual({ before: 0, added: 16_384 + 5_000_000, after: 5_016_384 });
    expect(created.totalAfter).toBe(508_192 + 5_016_384);
    const existing = extrapolate(measure({ existingBytes: { resources: 8_192, capabilities: 16_384 } }), 1, null);
    expect(existing.v2SizeBytes!.resources).toEqual({ before: 8_192, added: 500_000, after: 508_192 });
  });

  it("prices Neon's compute hours and storage", () => {
    const pricing = { computeCu: 2, cuHourUsd: 0.14, storageGbMonthUsd: 0.35, from: 'defaults' as const };
    const { durationMs, v2SizeBytes, cost } = extrapolate(measure(), 2, pricing);
    expect(cost!.computeHours.expected).toBeCloseTo((durationMs!.expected / 3_600_000) * 2, 15);
    expect(cost!.computeUsd.high).toBeCloseTo((durationMs!.high / 3_600_000) * 2 * 0.14, 15);
    const gib = (v2SizeBytes!.resources.added + v2SizeBytes!.capabilities.added) / 1024 ** 3;
    expect(cost!.storageAddedGb).toBeCloseTo(gib, 15);
    expect(cost!.storageUsdPerMonth).toBeCloseTo(gib * 0.35, 15);
    expect(cost).toMatchObject({ pricesFrom: 'defaults', pricesAsOf: '2025-08-14' });
  });

  it('has no rate when every sampled row was in v2 already, and none is needed when nothing is to copy', () => {
    const present = measure({ subSamples: [{ resources: 0, capabilities: 0, ms: 5 }] });
    expect(extrapolate(present, 1, null).durationMs).toBeNull();
    const done = { ...present, toCopy: { resources: 0, capabilities: 0, counted: 'dry-run' as const } };
    expect(extrapolate(done, 1, null).durationMs).toEqual({ expected: 70, low: 70, high: 70 });
  });
});

describe('a duration setting as ALTER … SET stores it', () => {
  it('reads units as PostgreSQL does, milliseconds without one', () => {
    expect(gucMs('1s')).toBe(1_000);
    expect(gucMs('5min')).toBe(300_000);
    expect(gucMs('250')).toBe(250);
    expect(gucMs('2h')).toBe(7_200_000);
    expect(gucMs('soon')).toBeNull();
  });
});
