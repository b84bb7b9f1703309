// Types of the `cloudflare:test` module these tests import inside workerd.
//
// The root typecheck (`npm run typecheck`) sees this folder with DOM and Node types, where the
// Workers runtime types are absent: there `env` and the ExecutionContext are loosely typed.
// For the precise check (R2Bucket against the adapter's R2BucketLike, ExecutionContext, ...)
// generate the runtime types and use this folder's tsconfig:
//   mkdir -p .wrangler/types && npx wrangler types .wrangler/types/worker-configuration.d.ts \
//     && npx tsc --noEmit -p test/workers
/// <reference types="@cloudflare/vitest-pool-workers/types" />
