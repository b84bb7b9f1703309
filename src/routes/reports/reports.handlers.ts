import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../http/create-router.js';
import { assertScope } from '../../http/auth.js';
import { HttpProblem } from '../../http/problems.js';
import { cancelRun } from '../../operations/cancel.js';
import { isChanging } from '../../operations/runs.js';
import type { ReportId } from '../../reports/ids.js';
import type { cancelReport, getReport, listReports } from './reports.routes.js';

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

export const cancelReportHandler: RouteHandler<typeof cancelReport, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const report = await c.var.deps.store.get(id as ReportId);
  if (!report) throw new HttpProblem('not-found', `No report has the id ${id}.`);
  if (isChanging(report.kind, report.request)) assertScope(c.var.principal, 'apply', `cancelling a changing run`);
  const running = await cancelRun(c.var.deps, report);
  c.header('Location', `/reports/${id}`);
  return c.json(running, 202);
};
