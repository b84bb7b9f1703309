import { describe, expect, it } from 'vitest';
import { explainOutput, summarizePlan } from './plan.js';
import { distribution, medianInterval, quantile } from './stats.js';

describe('distribution', () => {
  it('interpolates percentiles between ranks and keeps them ordered', () => {
    expect(quantile([10, 20, 30, 40], 0.5)).toBe(25);
    const d = distribution([5, 1, 4, 2, 3, 100]);
    expect(d).toMatchObject({ min: 1, max: 100, p50: 3.5, mean: 19.167 });
    expect(d.p50).toBeLessThanOrEqual(d.p95);
    expect(d.p95).toBeLessThanOrEqual(d.p99);
    expect(d.p99).toBeLessThanOrEqual(d.max);
    expect(d.stddev).toBeCloseTo(39.625, 3); // sample standard deviation (n - 1)
    expect(distribution([7])).toMatchObject({ min: 7, p50: 7, p99: 7, stddev: 0 });
  });
});

describe('medianInterval', () => {
  it('brackets the median by the binomial order statistics', () => {
    // n = 10: P(Binomial(10, ½) <= 1) = 1.1% <= 2.5% < P(<= 2) = 5.5%, so the 2nd smallest and 2nd largest.
    const xs = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
    expect(medianInterval(xs)).toEqual({ median: 5.5, low: 2, high: 9, n: 10 });
    // n = 100: the textbook ranks are 40 and 61.
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(medianInterval(hundred)).toMatchObject({ median: 50.5, low: 40, high: 61 });
    // Too few samples for 95%: the whole range.
    expect(medianInterval([3, 1, 2])).toEqual({ median: 2, low: 1, high: 3, n: 3 });
    expect(() => medianInterval([])).toThrow(RangeError);
  });
});

describe('summarizePlan', () => {
  const explain = [
    {
      Plan: {
        'Node Type': 'Limit',
        'Plan Rows': 100,
        'Actual Rows': 100,
        'Actual Loops': 1,
        'Total Cost': 42,
        'Shared Hit Blocks': 30,
        'Shared Read Blocks': 4,
        Plans: [
          {
            'Node Type': 'Nested Loop',
            'Plan Rows': 50000,
            'Actual Rows': 100,
            'Actual Loops': 1,
            Plans: [
              {
                'Node Type': 'Bitmap Heap Scan',
                'Relation Name': 'resources',
                'Plan Rows': 2,
                'Actual Rows': 900,
                'Actual Loops': 1,
                Plans: [
                  {
                    'Node Type': 'Bitmap Index Scan',
                    'Index Name': 'ix_resources_metadata_gin',
                    'Plan Rows': 2,
                    'Actual Rows': 900,
                    'Actual Loops': 1,
                  },
                ],
              },
              {
                'Node Type': 'Seq Scan',
                'Relation Name': 'capabilities',
                'Plan Rows': 10,
                'Actual Rows': 10,
                'Actual Loops': 10,
              },
              {
                'Node Type': 'Index Scan',
                'Relation Name': 'cost_tracking',
                'Index Name': 'ix_cost',
                'Plan Rows': 5,
                'Actual Rows': 0,
                'Actual Loops': 0,
              },
            ],
          },
        ],
      },
      'Planning Time': 0.2,
      'Execution Time': 1.5,
    },
  ];

  it('finds every scan and index anywhere in the tree, the buffers, and the worst misestimate', () => {
    const plan = summarizePlan(explainOutput(JSON.stringify(explain)));
    expect(plan.indexes).toEqual(['ix_resources_metadata_gin', 'ix_cost']);
    expect(plan.sequentialScans).toEqual(['capabilities']);
    expect(plan.usesIndex).toBe(true);
    expect(plan.buffers).toEqual({ hit: 30, read: 4 });
    // The nested loop under the Limit stopped early (100 of 50,000): not a misestimate. The bitmap scans are 450× off.
    expect(plan.worstMisestimate).toEqual({
      node: 'Bitmap Heap Scan',
      relation: 'resources',
      estimatedRows: 2,
      actualRows: 900,
      factor: 450,
    });
    expect(plan).toMatchObject({ planningMs: 0.2, executionMs: 1.5, totalCost: 42 });
  });

  it('counts a misestimate below a sort even under a Limit: the sort read all its input', () => {
    const plan = summarizePlan({
      Plan: {
        'Node Type': 'Limit',
        'Plan Rows': 10,
        'Actual Rows': 10,
        'Actual Loops': 1,
        Plans: [
          {
            'Node Type': 'Sort',
            'Sort Key': ['c.name'],
            'Plan Rows': 5000,
            'Actual Rows': 10,
            'Actual Loops': 1,
            Plans: [
              {
                'Node Type': 'Seq Scan',
                'Relation Name': 'capabilities',
                Filter: "(x = 'y')",
                'Plan Rows': 5000,
                'Actual Rows': 10,
                'Actual Loops': 1,
              },
            ],
          },
        ],
      },
    });
    expect(plan.worstMisestimate).toMatchObject({ node: 'Seq Scan', relation: 'capabilities', factor: 500 });
    expect(plan.sorts).toEqual([{ node: 'Sort', keys: ['c.name'] }]);
    expect(plan.scans).toEqual([
      { node: 'Seq Scan', relation: 'capabilities', index: null, estimatedRows: 5000, filtered: true },
    ]);
  });

  it('refuses what is not EXPLAIN output', () => {
    expect(() => explainOutput('[{"rows": 1}]')).toThrow(/EXPLAIN/);
  });
});
