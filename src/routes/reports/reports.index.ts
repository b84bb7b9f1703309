import { createRouter } from '../../http/create-router.js';
import { getReportHandler, listReportsHandler } from './reports.handlers.js';
import { getReport, listReports } from './reports.routes.js';

export const reportsRouter = createRouter()
  .openapi(listReports, listReportsHandler)
  .openapi(getReport, getReportHandler);
