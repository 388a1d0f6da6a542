import { describe, expect, it } from 'vitest';

import type { SqlClient } from '../src/client';
import { DataSource } from '../src/datasource';
import type { SqlResult } from '../src/types';
import { request, settings, templateSrv } from './helpers';

/** A client that records the SQL it gets and answers from `answer`. */
function fakeClient(answer: (sql: string) => SqlResult | Error) {
  const seen: string[] = [];
  const client: SqlClient = {
    async sql(q) {
      seen.push(q);
      const a = answer(q);
      if (a instanceof Error) {
        throw a;
      }
      return a;
    },
    async get(path) {
      if (path === '/api/v1/status/buildinfo') {
        return { status: 'success', data: { version: '9.9.9' } };
      }
      throw new Error(`no route for ${path}`);
    },
  };
  return { client, seen };
}

const from = Date.UTC(2025, 0, 1, 0, 0, 0);
const to = Date.UTC(2025, 0, 1, 1, 0, 0);

describe('DataSource', () => {
  it('expands macros and variables, runs each visible target and reports errors per query', async () => {
    const { client, seen } = fakeClient((q) =>
      q.includes('broken')
        ? new Error("table 'broken' not found")
        : { columns: [{ name: 'time', type: 'Timestamp(Nanosecond, None)' }, { name: 'v', type: 'Float64' }], rows: [['2025-01-01T00:00:00Z', 1]] }
    );
    const ds = new DataSource(settings('http://x'), { client, templateSrv: templateSrv({ service: ['a', 'b'] }) });
    const resp = await ds.query(
      request(
        [
          { refId: 'A', rawSql: 'SELECT $__timeGroup(time, $__interval) AS time, v FROM t WHERE $__timeFilter(time) AND s IN ($service)', format: 'time_series' },
          { refId: 'B', rawSql: 'SELECT * FROM broken', format: 'table' },
          { refId: 'C', rawSql: 'SELECT 1', format: 'table', hide: true },
        ],
        from,
        to
      )
    );
    expect(seen[0]).toBe(
      "SELECT time_bucket(INTERVAL '60 seconds', time) AS time, v FROM t WHERE (time >= TIMESTAMP '2025-01-01T00:00:00.000Z' AND time <= TIMESTAMP '2025-01-01T01:00:00.000Z') AND s IN ('a','b')"
    );
    expect(seen).toHaveLength(2);
    expect(resp.data).toHaveLength(1);
    expect(resp.data[0].refId).toBe('A');
    expect(resp.errors).toEqual([{ refId: 'B', message: "table 'broken' not found" }]);
  });

  it('answers variable queries with the distinct non-empty values of the first column', async () => {
    const { client, seen } = fakeClient(() => ({
      columns: [{ name: 'service_name', type: 'Utf8' }],
      rows: [['web'], [null], ['api'], ['web'], ['']],
    }));
    const ds = new DataSource(settings('http://x'), { client, templateSrv: templateSrv({}) });
    const values = await ds.metricFindQuery('SELECT DISTINCT service_name FROM logs WHERE $__timeFilter(time)');
    expect(values).toEqual([
      { text: 'web', value: 'web' },
      { text: 'api', value: 'api' },
    ]);
    expect(seen[0]).toContain('SELECT DISTINCT service_name FROM logs WHERE (time >= TIMESTAMP');
    const nested = await ds.metricFindQuery({ rawSql: 'SELECT 1' });
    expect(nested).toHaveLength(2);
  });

  it('reads tables and columns for the editor and checks health', async () => {
    const { client } = fakeClient((q) =>
      q.includes('information_schema.columns')
        ? { columns: [], rows: [['cpu', 'time', 'Timestamp'], ['cpu', 'value', 'Float64'], ['logs', 'body', 'Utf8']] }
        : { columns: [{ name: 'tables', type: 'Int64' }], rows: [[2]] }
    );
    const ds = new DataSource(settings('http://x'), { client, templateSrv: templateSrv({}) });
    expect(await ds.getSchema()).toEqual({
      cpu: [{ name: 'time', type: 'Timestamp' }, { name: 'value', type: 'Float64' }],
      logs: [{ name: 'body', type: 'Utf8' }],
    });
    expect(await ds.testDatasource()).toEqual({ status: 'success', message: 'Tidewater 9.9.9: 2 tables' });
    const down = new DataSource(settings('http://x'), {
      client: { sql: async () => { throw new Error('connection refused'); }, get: async () => { throw new Error('connection refused'); } },
      templateSrv: templateSrv({}),
    });
    expect(await down.testDatasource()).toEqual({ status: 'error', message: 'Cannot query Tidewater: connection refused' });
  });

  it('fills an empty annotation query with the alert history query', () => {
    const ds = new DataSource(settings('http://x'), { client: fakeClient(() => ({ columns: [], rows: [] })).client, templateSrv: templateSrv({}) });
    const prepared = ds.annotations!.prepareAnnotation!({ name: 'Alerts', enable: true, iconColor: 'red' } as any);
    expect(prepared.target?.format).toBe('annotations');
    expect(prepared.target?.rawSql).toContain('FROM system.alert_history');
  });
});
