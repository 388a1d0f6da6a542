// The query editor: SQL, the result format, and hints from
// information_schema (tables, and the columns of the table after FROM).

import React, { useEffect, useState } from 'react';
import type { QueryEditorProps } from '@grafana/data';

import type { DataSource, Schema } from '../datasource';
import type { Format, TidewaterOptions, TidewaterQuery } from '../types';

type Props = QueryEditorProps<DataSource, TidewaterQuery, TidewaterOptions>;

const FORMATS: Array<[Format, string]> = [
  ['time_series', 'Time series'],
  ['table', 'Table'],
  ['logs', 'Logs'],
];

/** The table named after FROM in `sql`, if any. */
export function tableInFrom(sql: string): string | undefined {
  const m = /\bfrom\s+"?([A-Za-z_][\w.]*)"?/i.exec(sql);
  return m?.[1];
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const [schema, setSchema] = useState<Schema>({});
  const [error, setError] = useState<string>('');
  useEffect(() => {
    datasource.getSchema().then(setSchema, (e: Error) => setError(e.message));
  }, [datasource]);
  const sql = query.rawSql ?? '';
  const table = tableInFrom(sql);
  const columns = table ? schema[table] : undefined;
  return (
    <div>
      <textarea
        aria-label="SQL"
        rows={8}
        style={{ width: '100%', fontFamily: 'monospace' }}
        value={sql}
        onChange={(e) => onChange({ ...query, rawSql: e.currentTarget.value })}
        onBlur={onRunQuery}
      />
      <div>
        <label>
          Format{' '}
          <select
            value={query.format ?? 'time_series'}
            onChange={(e) => {
              onChange({ ...query, format: e.currentTarget.value as Format });
              onRunQuery();
            }}
          >
            {FORMATS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>{' '}
        <small>Macros: $__timeFilter(time), $__timeGroup(time, $__interval), $__interval, $__from, $__to</small>
      </div>
      {error ? <div style={{ color: 'red' }}>{error}</div> : null}
      <div>
        <small>Tables: {Object.keys(schema).join(', ') || '(none yet)'}</small>
      </div>
      {columns ? (
        <div>
          <small>
            Columns of {table}: {columns.map((c) => `${c.name} (${c.type})`).join(', ')}
          </small>
        </div>
      ) : null}
    </div>
  );
}
