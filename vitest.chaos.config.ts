import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:chaos`: the long runs, not part of `npm test`, each from a random seed printed
 * first, so that the same variables replay a failure (docs/testing.md). The fuzz of the OpenAPI
 * document with many more requests, on every database target; and the fault trials (20 each of
 * migrate and rollback through pg, 5 through the Neon driver), which need TEST_DATABASE_URL.
 */
const random = () => String(Math.floor(Math.random() * 2 ** 31));
const seed = process.env.FUZZ_SEED ?? random();
const runs = process.env.FUZZ_RUNS ?? '3000';
const drivers = process.env.FUZZ_DRIVERS ?? 'pglite,pg,neon';
const faults = {
  FAULT_SEED: process.env.FAULT_SEED ?? random(),
  FAULT_TRIALS: process.env.FAULT_TRIALS ?? '20',
  FAULT_NEON_TRIALS: process.env.FAULT_NEON_TRIALS ?? '5',
};
console.info(`test:chaos: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} FUZZ_DRIVERS=${drivers}`);
console.info(
  `test:chaos: FAULT_SEED=${faults.FAULT_SEED} FAULT_TRIALS=${faults.FAULT_TRIALS} FAULT_NEON_TRIALS=${faults.FAULT_NEON_TRIALS}` +
    (process.env.TEST_DATABASE_URL ? '' : ' (skipped: the fault trials need TEST_DATABASE_URL)'),
);

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/fuzz.test.ts', 'test/faults.test.ts'],
    env: { FUZZ_SEED: seed, FUZZ_RUNS: runs, FUZZ_DRIVERS: drivers, ...faults },
  },
});
