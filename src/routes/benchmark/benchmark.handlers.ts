import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import { HttpProblem } from '../../http/problems.js';
import type { BenchmarkReport } from '../../reports/benchmark.js';
import type { ReportId } from '../../reports/ids.js';
import { answerRun, startRun } from '../operation.js';
import { benchmarkBodySchema, type postBenchmark } from './benchmark.routes.js';

export const postBenchmarkHandler: RouteHandler<typeof postBenchmark, AppEnv> = async (c) => {
  const input = benchmarkBodySchema.parse(c.req.valid('json')); // applies the defaults to an empty body too
  // The baseline is read before the run starts: a wrong id is the answer, not a failed report.
  const baseline = input.baselineReportId ? await c.var.deps.store.get(input.baselineReportId as ReportId) : null;
  if (input.baselineReportId && !baseline)
    throw new HttpProblem('not-found', `No report has the id ${input.baselineReportId}.`);
  if (baseline && baseline.kind !== 'benchmark') {
    throw new HttpProblem('bad-request', 'baselineReportId must name a benchmark report.', {
      errors: [{ field: 'baselineReportId', in: 'body', message: `is a ${baseline.kind} report, not a benchmark` }],
    });
  }
  const result = await startRun<BenchmarkReport>(c, 'benchmark', input);
  return answerRun(c, result);
};
