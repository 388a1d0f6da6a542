// The data source: runs each query's SQL (macros and variables expanded) on
// Tidewater and turns the answer into frames; variable queries, alert
// annotations, schema hints for the editor, and the health check.

import {
  DataSourceApi,
  type AnnotationQuery,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type MetricFindValue,
  type ScopedVars,
  type TestDataSourceResponse,
} from '@grafana/data';

import type { SqlClient } from './client';
import { toFrames } from './frames';
import { chooseInterval, interpolate, type TemplateSrvLike } from './macros';
import { ALERT_ANNOTATIONS_SQL, DEFAULT_QUERY, type TidewaterOptions, type TidewaterQuery } from './types';

/** What the data source needs from its surroundings (Grafana, or a test). */
export interface Deps {
  client: SqlClient;
  templateSrv: TemplateSrvLike;
}

/** Tables of the public schema with their columns, for the query editor. */
export type Schema = Record<string, Array<{ name: string; type: string }>>;

export class DataSource extends DataSourceApi<TidewaterQuery, TidewaterOptions> {
  readonly deps: Deps;

  constructor(instanceSettings: DataSourceInstanceSettings<TidewaterOptions>, deps: Deps) {
    super(instanceSettings);
    this.deps = deps;
    this.annotations = {
      prepareAnnotation: (json: AnnotationQuery<TidewaterQuery>) => {
        const target: TidewaterQuery = {
          refId: 'Anno',
          ...(json.target ?? {}),
          rawSql: json.target?.rawSql || ALERT_ANNOTATIONS_SQL,
          format: 'annotations',
        };
        return { ...json, target };
      },
    };
  }

  getDefaultQuery(): Partial<TidewaterQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: TidewaterQuery): boolean {
    return !query.hide && !!query.rawSql?.trim();
  }

  /** The SQL a query runs for `request` (macros and variables expanded). */
  interpolateSql(sql: string, request: Pick<DataQueryRequest, 'range' | 'intervalMs' | 'scopedVars'>): string {
    const from = request.range.from.valueOf();
    const to = request.range.to.valueOf();
    const intervalMs = request.intervalMs || chooseInterval(from, to);
    return interpolate(sql, { from, to, intervalMs }, this.deps.templateSrv, request.scopedVars);
  }

  async query(request: DataQueryRequest<TidewaterQuery>): Promise<DataQueryResponse> {
    const targets = request.targets.filter((t) => this.filterQuery(t));
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          const sql = this.interpolateSql(t.rawSql, request);
          const result = await this.deps.client.sql(sql);
          return { frames: toFrames(result, t.refId, t.format ?? 'time_series') };
        } catch (e: any) {
          return { error: { refId: t.refId, message: e?.message ?? String(e) } };
        }
      })
    );
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    return { data: results.flatMap((r) => r.frames ?? []), errors: errors.length ? errors : undefined };
  }

  /** Variable values: the first column of the SQL (macros for the dashboard's time range). */
  async metricFindQuery(query: string | { rawSql?: string }, options?: { range?: DataQueryRequest['range']; scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const raw = typeof query === 'string' ? query : query?.rawSql ?? '';
    const now = Date.now();
    const range = options?.range ?? ({ from: { valueOf: () => now - 3600e3 }, to: { valueOf: () => now } } as any);
    const sql = this.interpolateSql(raw, { range, intervalMs: 0, scopedVars: options?.scopedVars ?? {} });
    const result = await this.deps.client.sql(sql);
    const seen = new Set<string>();
    const out: MetricFindValue[] = [];
    for (const row of result.rows) {
      const text = row[0] === null || row[0] === undefined ? '' : String(row[0]);
      if (text !== '' && !seen.has(text)) {
        seen.add(text);
        out.push({ text, value: row.length > 1 && row[1] !== null ? String(row[1]) : text });
      }
    }
    return out;
  }

  /** Tables and columns from information_schema, for the editor's hints. */
  async getSchema(): Promise<Schema> {
    const r = await this.deps.client.sql(
      "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    );
    const schema: Schema = {};
    for (const [table, name, type] of r.rows as string[][]) {
      (schema[table] ??= []).push({ name, type });
    }
    return schema;
  }

  /** Health check: reachable, its version, how many tables it has. */
  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const info = await this.deps.client.get('/api/v1/status/buildinfo');
      const r = await this.deps.client.sql(
        "SELECT count(*) AS tables FROM information_schema.tables WHERE table_schema = 'public'"
      );
      const tables = Number(r.rows[0]?.[0] ?? 0);
      return { status: 'success', message: `Tidewater ${info?.data?.version ?? '(unknown version)'}: ${tables} tables` };
    } catch (e: any) {
      return { status: 'error', message: `Cannot query Tidewater: ${e?.message ?? e}` };
    }
  }
}
