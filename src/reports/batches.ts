import { z } from './zod.js';

/** How a migration's or a rollback's batch size was chosen, and what it was. */
export const batchSizingSchema = z
  .object({
    mode: z.enum(['fixed', 'adaptive']).openapi({
      description:
        '`fixed`: the request named `batchSize`. `adaptive`: the size started at `first` and followed the measured time of each batch towards `targetMs`.',
    }),
    targetMs: z.number().int().nullable().openapi({ description: 'The time each batch aimed at; null when fixed.' }),
    first: z.number().int(),
    last: z.number().int().openapi({ description: 'The size of the last batch handed out.' }),
    smallest: z.number().int(),
    largest: z.number().int(),
  })
  .openapi('BatchSizing');
export type BatchSizing = z.infer<typeof batchSizingSchema>;
