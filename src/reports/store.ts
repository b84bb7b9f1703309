import type { ObjectMeta, ObjectStore } from '../adapters/storage/types.js';
import { idFromNewestFirstKey, newestFirstKey, type ReportId } from './ids.js';
import type { Report, ReportKind, ReportList, ReportSummary } from './schemas.js';

export interface ReportQuery {
  kind?: ReportKind | undefined;
  limit: number;
  cursor?: ReportId | undefined;
}

export interface ReportStore {
  put(report: Report): Promise<void>;
  get(id: ReportId): Promise<Report | null>;
  /** Newest first, `limit` at most, after `cursor` (the last id of the previous page). */
  list(query: ReportQuery): Promise<ReportList>;
  /** Resolves when the store answers and may be written. */
  check(): Promise<void>;
  /** Objects beside the reports that a report names (a rollback's archive exports), streamed. */
  putObject(key: string, body: ReadableStream<Uint8Array>, meta: ObjectMeta): Promise<{ bytes: number }>;
  getObject(key: string): Promise<ReadableStream<Uint8Array> | null>;
}

const PREFIX = 'reports/';
const keyOf = (id: ReportId) => `${PREFIX}${newestFirstKey(id)}.json`;
const idOfKey = (key: string) => idFromNewestFirstKey(key.slice(PREFIX.length, -'.json'.length));

/** What a listing shows, kept as object metadata so listing never reads report bodies. */
function summaryMeta(report: Report): Record<string, string> {
  return {
    kind: report.kind,
    status: report.status,
    createdAt: report.createdAt,
    finishedAt: report.finishedAt ?? '',
    actor: report.actor,
  };
}

function summaryOf(id: ReportId, meta: Record<string, string>): ReportSummary | null {
  if (!meta.kind || !meta.status || !meta.createdAt) return null;
  return {
    id,
    kind: meta.kind as ReportKind,
    status: meta.status,
    createdAt: meta.createdAt,
    finishedAt: meta.finishedAt || null,
    actor: meta.actor ?? '',
  };
}

export function createReportStore(objects: ObjectStore): ReportStore {
  return {
    put: (report) => objects.put(keyOf(report.id as ReportId), JSON.stringify(report), summaryMeta(report)),
    async get(id) {
      const body = await objects.get(keyOf(id));
      return body === null ? null : (JSON.parse(body) as Report);
    },
    async list({ kind, limit, cursor }) {
      const items: ReportSummary[] = [];
      let startAfter = cursor ? keyOf(cursor) : undefined;
      let more = true;
      // A kind filter may skip many keys; read pages until the page is full or keys run out.
      while (more && items.length <= limit) {
        const page = await objects.list({ prefix: PREFIX, startAfter, limit: Math.max(100, limit + 1) });
        for (const object of page.objects) {
          const id = idOfKey(object.key);
          const summary = id && summaryOf(id, object.meta);
          if (summary && (!kind || summary.kind === kind)) items.push(summary);
          if (items.length > limit) break;
        }
        more = page.truncated && page.objects.length > 0;
        startAfter = page.objects.at(-1)?.key;
      }
      const hasMore = items.length > limit;
      const pageItems = items.slice(0, limit);
      return { items: pageItems, nextCursor: hasMore ? (pageItems.at(-1)?.id ?? null) : null };
    },
    check: () => objects.check(PREFIX),
    putObject: (key, body, meta) => objects.putStream(key, body, meta),
    getObject: (key) => objects.getStream(key),
  };
}
