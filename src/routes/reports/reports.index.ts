import { createRouter } from '../../http/create-router.js';
import { cancelReportHandler, getReportHandler, listReportsHandler } from './reports.handlers.js';
import { cancelReport, getReport, listReports } from './reports.routes.js';

export const reportsRouter = createRouter()
  .openapi(listReports, listReportsHandler)
  .openapi(getReport, getReportHandler)
  .openapi(cancelReport, cancelReportHandler);
