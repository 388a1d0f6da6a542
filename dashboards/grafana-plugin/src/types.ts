// Query and settings types of the Tidewater data source.

import type { DataQuery, DataSourceJsonData } from '@grafana/data';

/** How a query's result becomes data frames. */
export type Format = 'time_series' | 'table' | 'logs' | 'annotations';

/** A query: SQL with macros and variables, and the result format. */
export interface TidewaterQuery extends DataQuery {
  rawSql: string;
  format: Format;
}

/** Data source settings beyond the URL (none yet). */
export interface TidewaterOptions extends DataSourceJsonData {}

/** The answer of Tidewater's SQL API. */
export interface SqlResult {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
}

/** Default annotation query: alert state changes from the alerting history. */
export const ALERT_ANNOTATIONS_SQL =
  "SELECT time, rule AS title, concat(from_state, ' -> ', to_state, ' (value ', CAST(value AS VARCHAR), ')') AS text, " +
  "concat('alertname=', rule, ',', to_state) AS tags\nFROM system.alert_history\nWHERE $__timeFilter(time)\nORDER BY time";

export const DEFAULT_QUERY: Partial<TidewaterQuery> = {
  rawSql: 'SELECT $__timeGroup(time, $__interval) AS time, avg(value) AS value\nFROM my_metric\nWHERE $__timeFilter(time)\nGROUP BY 1\nORDER BY 1',
  format: 'time_series',
};
