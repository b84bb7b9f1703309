import { env, reset } from 'cloudflare:test';
import { r2ObjectStore } from '../../src/adapters/storage/r2.js';
import { createReportStore } from '../../src/reports/store.js';
import { describeReportStoreContract } from '../support/store-contract.js';

// The same contract the file store passes, on the Worker's R2 binding (Miniflare's local R2).
// reset() empties this file's bindings, so each case starts from an empty bucket.
describeReportStoreContract('r2', async () => {
  await reset();
  return createReportStore(r2ObjectStore(env.REPORTS));
});
