import { createRouter } from '../../http/create-router.js';
import { postBenchmarkHandler } from './benchmark.handlers.js';
import { postBenchmark } from './benchmark.routes.js';

export const benchmarkRouter = createRouter().openapi(postBenchmark, postBenchmarkHandler);
