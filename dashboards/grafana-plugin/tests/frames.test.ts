import { FieldType } from '@grafana/data';
import { describe, expect, it } from 'vitest';

import { level, toFrames } from '../src/frames';

const ts = (s: number) => `2025-01-01T00:00:0${s}.123456789Z`;

describe('frames', () => {
  it('makes one time-series frame per label set with labels on the value field', () => {
    const result = {
      columns: [
        { name: 'time', type: 'Timestamp(Nanosecond, Some("UTC"))' },
        { name: 'service_name', type: 'Dictionary(Int32, Utf8)' },
        { name: 'value', type: 'Float64' },
      ],
      rows: [
        [ts(1), 'web', 1.5],
        [ts(0), 'web', 'NaN'],
        [ts(0), 'api', null],
        [ts(1), 'api', 3],
      ],
    };
    const frames = toFrames(result, 'A', 'time_series');
    expect(frames.map((f) => f.name)).toEqual(['api', 'web']);
    const web = frames[1];
    expect(web.refId).toBe('A');
    expect(web.fields[0].type).toBe(FieldType.time);
    expect(web.fields[0].values).toEqual([Date.UTC(2025, 0, 1, 0, 0, 0) + 123.456789, Date.UTC(2025, 0, 1, 0, 0, 1) + 123.456789]);
    expect(web.fields[1].values[0]).toBeNaN();
    expect(web.fields[1].values[1]).toBe(1.5);
    expect(web.fields[1].labels).toEqual({ service_name: 'web' });
    expect(frames[0].fields[1].values).toEqual([null, 3]);
  });

  it('makes one series per value column of a wide result', () => {
    const result = {
      columns: [
        { name: 't', type: 'Timestamp(Nanosecond, None)' },
        { name: 'p50', type: 'Float64' },
        { name: 'p99', type: 'Float64' },
      ],
      rows: [[ts(0), 1, 2]],
    };
    expect(toFrames(result, 'B', 'time_series').map((f) => [f.name, f.fields[1].values[0]])).toEqual([
      ['p50', 1],
      ['p99', 2],
    ]);
    expect(() => toFrames({ columns: [{ name: 'x', type: 'Utf8' }], rows: [] }, 'C', 'time_series')).toThrow(
      'no timestamp column'
    );
  });

  it('keeps every column of a table with its type', () => {
    const frame = toFrames(
      {
        columns: [
          { name: 'route', type: 'Utf8' },
          { name: 'requests', type: 'UInt64' },
          { name: 'ok', type: 'Boolean' },
        ],
        rows: [['/a', 5, true]],
      },
      'A',
      'table'
    )[0];
    expect(frame.fields.map((f) => [f.name, f.type, f.values[0]])).toEqual([
      ['route', FieldType.string, '/a'],
      ['requests', FieldType.number, 5],
      ['ok', FieldType.boolean, true],
    ]);
  });

  it('makes a logs frame with body and level for the logs table', () => {
    const frame = toFrames(
      {
        columns: [
          { name: 'time', type: 'Timestamp(Nanosecond, Some("UTC"))' },
          { name: 'severity_number', type: 'Int32' },
          { name: 'severity_text', type: 'Dictionary(Int32, Utf8)' },
          { name: 'service_name', type: 'Dictionary(Int32, Utf8)' },
          { name: 'body', type: 'Utf8' },
        ],
        rows: [
          [ts(0), 17, null, 'web', 'boom'],
          [ts(1), 9, 'Info', 'web', 'fine'],
        ],
      },
      'L',
      'logs'
    )[0];
    expect(frame.meta?.preferredVisualisationType).toBe('logs');
    expect(frame.fields.map((f) => f.name)).toEqual(['time', 'body', 'level', 'service_name']);
    expect(frame.fields[2].values).toEqual(['error', 'info']);
    expect(level(null, 22)).toBe('critical');
    expect(level(undefined, 0)).toBe('unknown');
  });

  it('turns annotation rows into events with tag lists', () => {
    const frame = toFrames(
      {
        columns: [
          { name: 'time', type: 'Timestamp(Nanosecond, Some("UTC"))' },
          { name: 'title', type: 'Utf8' },
          { name: 'tags', type: 'Utf8' },
        ],
        rows: [[ts(0), 'HighLatency', 'alertname=HighLatency, firing']],
      },
      'Anno',
      'annotations'
    )[0];
    expect(frame.fields[2].values[0]).toEqual(['alertname=HighLatency', 'firing']);
  });
});
