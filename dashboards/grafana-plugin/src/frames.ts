// SQL answers as Grafana data frames: one frame per time series (labels on
// the value field), a table frame, a logs frame, or annotation events.

import { createDataFrame, FieldType, type DataFrame, type Field } from '@grafana/data';
// Plain JavaScript shared with the built-in UI, typed by its JSDoc.
import { toSeries, isTimeType, isNumericType, parseTimestamp, toNumber } from '../../ui/js/series.js';

import type { Format, SqlResult } from './types';

function fieldType(type: string): FieldType {
  if (isTimeType(type)) {
    return FieldType.time;
  }
  if (isNumericType(type)) {
    return FieldType.number;
  }
  if (type === 'Boolean') {
    return FieldType.boolean;
  }
  return FieldType.string;
}

function column(result: SqlResult, i: number): unknown[] {
  const type = fieldType(result.columns[i].type);
  return result.rows.map((r) => {
    const v = r[i];
    if (v === null || v === undefined) {
      return null;
    }
    if (type === FieldType.time) {
      return parseTimestamp(v);
    }
    if (type === FieldType.number) {
      return toNumber(v);
    }
    return v;
  });
}

/** Every column as a field, in order. */
export function tableFrame(result: SqlResult, refId: string): DataFrame {
  return createDataFrame({
    refId,
    fields: result.columns.map((c, i) => ({ name: c.name, type: fieldType(c.type), values: column(result, i) })),
  });
}

/** One frame per series: a time field and a value field carrying the labels. */
export function timeSeriesFrames(result: SqlResult, refId: string): DataFrame[] {
  const { series } = toSeries(result);
  return series.map((s: { name: string; field: string; labels: Record<string, string>; times: number[]; values: Array<number | null> }) =>
    createDataFrame({
      refId,
      name: s.name,
      fields: [
        { name: 'time', type: FieldType.time, values: s.times },
        { name: s.field, type: FieldType.number, values: s.values, labels: s.labels },
      ],
    })
  );
}

/**
 * A logs frame: `time`, `body`, `level` (from severity_text or
 * severity_number) and the other columns as fields (labels for Grafana's
 * log details).
 */
export function logsFrame(result: SqlResult, refId: string): DataFrame {
  const idx = new Map(result.columns.map((c, i) => [c.name, i]));
  const time = idx.get('time');
  const body = idx.get('body');
  if (time === undefined || body === undefined) {
    throw new Error('a logs query must return the columns time and body');
  }
  const fields: Array<Partial<Field> & { name: string }> = [
    { name: 'time', type: FieldType.time, values: column(result, time) },
    { name: 'body', type: FieldType.string, values: result.rows.map((r) => String(r[body] ?? '')) },
  ];
  const text = idx.get('severity_text');
  const num = idx.get('severity_number');
  if (text !== undefined || num !== undefined) {
    fields.push({
      name: 'level',
      type: FieldType.string,
      values: result.rows.map((r) => level(text === undefined ? null : r[text], num === undefined ? null : r[num])),
    });
  }
  result.columns.forEach((c, i) => {
    if (!['time', 'body', 'severity_text', 'severity_number'].includes(c.name)) {
      fields.push({ name: c.name, type: fieldType(c.type), values: column(result, i) });
    }
  });
  return createDataFrame({ refId, fields, meta: { preferredVisualisationType: 'logs' } });
}

/** Grafana's log level names from OTel severity. */
export function level(text: unknown, num: unknown): string {
  if (typeof text === 'string' && text) {
    return text.toLowerCase();
  }
  const n = typeof num === 'number' ? num : Number(num);
  if (!Number.isFinite(n) || n <= 0) {
    return 'unknown';
  }
  return n >= 21 ? 'critical' : n >= 17 ? 'error' : n >= 13 ? 'warning' : n >= 9 ? 'info' : n >= 5 ? 'debug' : 'trace';
}

/** Annotation events: `time` (and optional `timeEnd`, `title`, `text`, `tags` as a comma list). */
export function annotationsFrame(result: SqlResult, refId: string): DataFrame {
  const frame = tableFrame(result, refId);
  const tags = frame.fields.find((f) => f.name === 'tags');
  if (tags) {
    tags.values = tags.values.map((v: unknown) => (v === null ? [] : String(v).split(',').map((t) => t.trim()).filter(Boolean)));
    tags.type = FieldType.other;
  }
  if (!frame.fields.some((f) => f.name === 'time' && f.type === FieldType.time)) {
    throw new Error('an annotation query must return a timestamp column named time');
  }
  return frame;
}

/** The frames of a result in the query's format. */
export function toFrames(result: SqlResult, refId: string, format: Format): DataFrame[] {
  switch (format) {
    case 'table':
      return [tableFrame(result, refId)];
    case 'logs':
      return [logsFrame(result, refId)];
    case 'annotations':
      return [annotationsFrame(result, refId)];
    default:
      return timeSeriesFrames(result, refId);
  }
}
