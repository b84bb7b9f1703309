/**
 * Report ids are UUIDv7: time-sortable, unguessable enough, and checked against a strict
 * pattern before they reach a store key, so no id can name anything outside the store.
 */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export type ReportId = string & { readonly __brand: 'ReportId' };

export function isReportId(value: string): value is ReportId {
  return UUID_V7.test(value);
}

let lastMs = 0;
let sequence = 0;

/** A new UUIDv7; ids made in the same millisecond by this isolate still sort in creation order. */
export function newReportId(now: number = Date.now()): ReportId {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1; // 4096 ids in one millisecond: borrow the next one
    now = lastMs;
  } else {
    lastMs = now;
    sequence = bytes[6]! & 0x07; // random start, leaving room to count up
  }
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as ReportId;
}

/** Each hex digit d becomes f-d: keys made from these sort newest first. */
export function newestFirstKey(id: ReportId): string {
  return id.replace(/[0-9a-f]/g, (d) => (15 - parseInt(d, 16)).toString(16));
}

export function idFromNewestFirstKey(key: string): ReportId | null {
  const id = key.replace(/[0-9a-f]/g, (d) => (15 - parseInt(d, 16)).toString(16));
  return isReportId(id) ? id : null;
}
