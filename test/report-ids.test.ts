import { describe, expect, it } from 'vitest';
import { idFromNewestFirstKey, isReportId, newestFirstKey, newReportId } from '../src/reports/ids.js';

describe('report ids', () => {
  it('are UUIDv7 that sort in creation order, also within one millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => newReportId(now));
    expect(ids.every(isReportId)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('turn into keys that sort newest first and back', () => {
    const older = newReportId(1_000_000);
    const newer = newReportId(2_000_000);
    expect(newestFirstKey(newer) < newestFirstKey(older)).toBe(true);
    expect(idFromNewestFirstKey(newestFirstKey(older))).toBe(older);
  });

  it('refuse anything that is not a lowercase UUIDv7', () => {
    for (const bad of [
      '../../etc/passwd',
      '',
      '019ab8f2-6c1e-4d3a-9f21-4c8e2b7a1d05',
      '019AB8F2-6C1E-7D3A-9F21-4C8E2B7A1D05',
      '019ab8f2-6c1e-7d3a-9f21-4c8e2b7a1d05/..',
    ]) {
      expect(isReportId(bad), bad).toBe(false);
    }
  });
});
