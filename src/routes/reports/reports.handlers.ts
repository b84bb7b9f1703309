import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import { HttpProblem } from '../../http/problems.js';
import type { ReportId } from '../../reports/ids.js';
import type { getReport, listReports } from './reports.routes.js';

export const listReportsHandler: RouteHandler<typeof listReports, AppEnv> = async (c) => {
  const { kind, limit, cursor } = c.req.valid('query');
  const page = await c.var.deps.store.list({ kind, limit, cursor: cursor as ReportId | undefined });
  return c.json(page, 200);
};

export const getReportHandler: RouteHandler<typeof getReport, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const report = await c.var.deps.store.get(id as ReportId);
  if (!report) throw new HttpProblem('not-found', `No report has the id ${id}.`);
  return c.json(report, 200);
};
