import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:chaos`: the long runs, not part of `npm test`. The fuzz of the OpenAPI document
 * with many more requests, on every database target, from a random seed printed first, so that
 * `FUZZ_SEED=<seed> npm run test:chaos` replays a failure (docs/testing.md).
 */
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const runs = process.env.FUZZ_RUNS ?? '3000';
const drivers = process.env.FUZZ_DRIVERS ?? 'pglite,pg,neon';
console.info(`test:chaos: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} FUZZ_DRIVERS=${drivers}`);

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/fuzz.test.ts'],
    env: { FUZZ_SEED: seed, FUZZ_RUNS: runs, FUZZ_DRIVERS: drivers },
  },
});
