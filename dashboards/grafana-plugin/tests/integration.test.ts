// The data source's query path in Node against a live Tidewater: the test
// starts `tidewater serve` (TIDEWATER_BIN, default target/debug/tidewater;
// `cargo build` first), pushes OTLP/JSON metrics and logs, and queries
// through the plugin with a fetch-based client.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fetchClient } from '../src/client';
import { DataSource } from '../src/datasource';
import { request, settings, templateSrv } from './helpers';

const BIN = process.env.TIDEWATER_BIN ?? resolve(__dirname, '../../../target/debug/tidewater');
let server: ChildProcess;
let dataDir: string;
let base: string;
const now = Date.now();
const SERVICES = ['api', 'web'];

function start(): Promise<string> {
  if (!existsSync(BIN)) {
    throw new Error(`no tidewater binary at ${BIN}: run \`cargo build\` or set TIDEWATER_BIN`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'tidewater-plugin-'));
  server = spawn(BIN, ['serve', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0', '--grpc-addr', '127.0.0.1:0', '--pg-addr', '127.0.0.1:0'], {
    env: { ...process.env, TIDEWATER_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((ok, fail) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`tidewater did not start:\n${log}`)), 60000);
    server.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /listening.*http_addr=(\S+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        ok(`http://${m[1]}`);
      }
    });
    server.on('exit', (code) => fail(new Error(`tidewater exited with ${code}:\n${log}`)));
  });
}

const attr = (key: string, v: string) => ({ key, value: { stringValue: v } });

async function push(path: string, body: unknown) {
  const resp = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(resp.status, await resp.clone().text()).toBe(200);
}

beforeAll(async () => {
  base = await start();
  // A gauge per service, one point a minute for 10 minutes: value = minute index (+100 for web).
  await push('/v1/metrics', {
    resourceMetrics: SERVICES.map((svc, si) => ({
      resource: { attributes: [attr('service.name', svc)] },
      scopeMetrics: [{ metrics: [{ name: 'queue.depth', gauge: { dataPoints: Array.from({ length: 10 }, (_, i) => ({
        timeUnixNano: String(BigInt(now - (10 - i) * 60000) * 1000000n),
        asDouble: i + si * 100,
      })) } }] }],
    })),
  });
  await push('/v1/logs', {
    resourceLogs: [{
      resource: { attributes: [attr('service.name', 'web')] },
      scopeLogs: [{ logRecords: [
        { timeUnixNano: String(BigInt(now - 60000) * 1000000n), severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'payment failed' } },
        { timeUnixNano: String(BigInt(now - 30000) * 1000000n), severityNumber: 9, body: { stringValue: 'all good' } },
      ] }],
    }],
  });
});

afterAll(() => {
  server?.kill('SIGKILL');
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

function datasource(vars: Record<string, string[]> = {}) {
  return new DataSource(settings(base), { client: fetchClient(base), templateSrv: templateSrv(vars) });
}

describe('against a live Tidewater', () => {
  it('answers a time-series query with one frame per service', async () => {
    const resp = await datasource({ service: SERVICES }).query(
      request(
        [{ refId: 'A', format: 'time_series', rawSql:
          'SELECT $__timeGroup(time, $__interval) AS time, service_name, max(value) AS value FROM queue_depth ' +
          'WHERE $__timeFilter(time) AND service_name IN ($service) GROUP BY 1, 2 ORDER BY 1' }],
        now - 3600e3,
        now,
        60000
      )
    );
    expect(resp.errors).toBeUndefined();
    const byName = Object.fromEntries(resp.data.map((f: any) => [f.name, f.fields[1].values]));
    expect(Object.keys(byName).sort()).toEqual(SERVICES);
    expect(byName.api).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(byName.web[9]).toBe(109);
  });

  it('narrows by a variable, makes tables and logs frames, and reports SQL errors', async () => {
    const resp = await datasource({ service: ['web'] }).query(
      request(
        [
          { refId: 'T', format: 'table', rawSql: 'SELECT service_name, count(*) AS n FROM queue_depth WHERE $__timeFilter(time) AND service_name IN ($service) GROUP BY 1' },
          { refId: 'L', format: 'logs', rawSql: 'SELECT time, severity_number, severity_text, service_name, body FROM logs WHERE $__timeFilter(time) ORDER BY time' },
          { refId: 'E', format: 'table', rawSql: 'SELECT nope FROM queue_depth' },
        ],
        now - 3600e3,
        now
      )
    );
    const table = resp.data.find((f: any) => f.refId === 'T');
    expect(table.fields.map((f: any) => [f.name, f.values])).toEqual([['service_name', ['web']], ['n', [10]]]);
    const logs = resp.data.find((f: any) => f.refId === 'L');
    expect(logs.meta.preferredVisualisationType).toBe('logs');
    expect(logs.fields.find((f: any) => f.name === 'body').values).toEqual(['payment failed', 'all good']);
    expect(logs.fields.find((f: any) => f.name === 'level').values).toEqual(['error', 'info']);
    expect(resp.errors?.[0].refId).toBe('E');
    expect(resp.errors?.[0].message).toMatch(/nope/);
  });

  it('fills variables, reads the schema, annotates from alert history and passes the health check', async () => {
    const ds = datasource();
    const values = await ds.metricFindQuery('SELECT DISTINCT service_name FROM queue_depth WHERE $__timeFilter(time) ORDER BY 1');
    expect(values.map((v) => v.text)).toEqual(SERVICES);
    const schema = await ds.getSchema();
    expect(schema.queue_depth.map((c) => c.name)).toEqual(expect.arrayContaining(['time', 'value', 'service_name']));
    const anno = ds.annotations!.prepareAnnotation!({ name: 'Alerts', enable: true, iconColor: 'red' } as any);
    const resp = await ds.query(request([anno.target as any], now - 3600e3, now));
    expect(resp.errors).toBeUndefined();
    expect(resp.data[0].fields.map((f: any) => f.name)).toEqual(['time', 'title', 'text', 'tags']);
    const health = await ds.testDatasource();
    expect(health.status).toBe('success');
    expect(health.message).toMatch(/^Tidewater \d+\.\d+\.\d+: \d+ tables$/);
  });
});
