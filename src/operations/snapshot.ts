/**
 * The oldest a read-only snapshot of the service's may grow: a dry run's or a validation's
 * (repeatable read) holds back VACUUM on every table of the database while it lives, so no
 * request may keep one longer than this (TransactionOptions.snapshotMaxMs).
 */
export const SNAPSHOT_MAX_MS = 600_000;
