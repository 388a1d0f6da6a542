import { dateTime, type DataQueryRequest, type DataSourceInstanceSettings } from '@grafana/data';

import type { TidewaterOptions, TidewaterQuery } from '../src/types';
import type { TemplateSrvLike } from '../src/macros';

export function settings(url: string): DataSourceInstanceSettings<TidewaterOptions> {
  return {
    id: 1,
    uid: 'tidewater',
    type: 'tidewater-sql-datasource',
    name: 'Tidewater',
    url,
    jsonData: {},
    access: 'proxy',
    readOnly: false,
    meta: {} as any,
  } as DataSourceInstanceSettings<TidewaterOptions>;
}

/** A template service like Grafana's: `$name` and `${name}` with the formatter. */
export function templateSrv(vars: Record<string, string[]>): TemplateSrvLike {
  return {
    replace(target = '', _scoped, format) {
      return target.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a, b) => {
        const name = a || b;
        if (!(name in vars)) {
          return whole;
        }
        return typeof format === 'function' ? format(vars[name]) : vars[name].join(',');
      });
    },
  };
}

export function request(targets: TidewaterQuery[], from: number, to: number, intervalMs = 60000): DataQueryRequest<TidewaterQuery> {
  return {
    requestId: 'r1',
    interval: `${intervalMs / 1000}s`,
    intervalMs,
    range: { from: dateTime(from), to: dateTime(to), raw: { from: 'now-1h', to: 'now' } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
  } as DataQueryRequest<TidewaterQuery>;
}
