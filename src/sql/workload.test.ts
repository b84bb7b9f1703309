import { describe, expect, it } from 'vitest';
import { explainWorkloadSql, heaviestStatementsSql, prepareWorkloadSql, WORKLOAD_LIMIT } from './workload.js';

describe('workload SQL', () => {
  it('binds the catalogue tables, the service schema and the limit, never splicing them', () => {
    const { text, values } = heaviestStatementsSql();
    expect(values).toEqual([
      ['resources', 'capabilities', 'federation_nodes', 'cost_tracking', 'principal_budgets'],
      ['mcp_servers', 'mcp_tools'],
      'sark_migrate',
      WORKLOAD_LIMIT,
    ]);
    expect(text).not.toMatch(/mcp_servers|resources|sark_migrate/);
    expect(text).toContain(String.raw`'^\s*select\M'`); // backslashes reach PostgreSQL's regex as written
  });

  it('refuses to prepare a text holding ";", which the simple protocol would run as a second statement', () => {
    expect(() => prepareWorkloadSql('SELECT 1 FROM resources; DROP TABLE resources')).toThrow(/never prepared/);
    expect(prepareWorkloadSql('SELECT id FROM resources WHERE protocol = $1')).toEqual({
      text: 'PREPARE sark_migrate_workload AS SELECT id FROM resources WHERE protocol = $1',
      values: [],
    });
  });

  it('executes the prepared statement with one NULL per parameter, and with none when it has none', () => {
    expect(explainWorkloadSql(3).text).toBe('EXPLAIN (FORMAT JSON) EXECUTE sark_migrate_workload(NULL, NULL, NULL)');
    expect(explainWorkloadSql(0).text).toBe('EXPLAIN (FORMAT JSON) EXECUTE sark_migrate_workload');
  });
});
