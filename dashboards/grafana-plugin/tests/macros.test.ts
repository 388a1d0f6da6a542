import { describe, expect, it } from 'vitest';

import { chooseInterval, expandMacros, interpolate, parseDuration, sqlFormatter } from '../src/macros';

const from = Date.UTC(2025, 0, 1, 0, 0, 0);
const to = Date.UTC(2025, 0, 1, 1, 0, 0);
const ctx = { from, to, intervalMs: 30000 };

describe('macros', () => {
  it('expands the time filter, group and range macros', () => {
    const sql =
      'SELECT $__timeGroup(time, $__interval) AS t, $__timeGroupAlias(time, 5m), avg(value) FROM cpu ' +
      'WHERE $__timeFilter(time) AND time > $__timeFrom() AND time < $__timeTo() AND $__from < $__to AND x = $__interval_ms';
    expect(expandMacros(sql, ctx)).toBe(
      "SELECT time_bucket(INTERVAL '30 seconds', time) AS t, time_bucket(INTERVAL '300 seconds', time) AS time, avg(value) FROM cpu " +
        "WHERE (time >= TIMESTAMP '2025-01-01T00:00:00.000Z' AND time <= TIMESTAMP '2025-01-01T01:00:00.000Z') " +
        "AND time > TIMESTAMP '2025-01-01T00:00:00.000Z' AND time < TIMESTAMP '2025-01-01T01:00:00.000Z' " +
        `AND ${from} < ${to} AND x = 30000`
    );
  });

  it('keeps nested parentheses and quoted commas inside macro arguments', () => {
    expect(expandMacros("$__timeFilter(coalesce(time, to_timestamp('a,b')))", ctx)).toBe(
      "(coalesce(time, to_timestamp('a,b')) >= TIMESTAMP '2025-01-01T00:00:00.000Z' AND coalesce(time, to_timestamp('a,b')) <= TIMESTAMP '2025-01-01T01:00:00.000Z')"
    );
    expect(expandMacros("$__timeGroup(time, '1h')", ctx)).toBe("time_bucket(INTERVAL '3600 seconds', time)");
    expect(expandMacros('$__interval', { ...ctx, intervalMs: 1500 })).toBe("INTERVAL '1500 milliseconds'");
  });

  it('refuses unknown macros and bad arguments, or keeps unknown ones for Grafana', () => {
    expect(() => expandMacros('$__timeFilter()', ctx)).toThrow('needs 1 argument');
    expect(() => expandMacros('$__timeGroup(time, soon)', ctx)).toThrow('invalid interval soon');
    expect(() => expandMacros('$__timeFilter(time', ctx)).toThrow('closing parenthesis');
    expect(() => expandMacros('SELECT $__nope', ctx)).toThrow('unknown macro $__nope');
    expect(expandMacros('SELECT $__dashboard', { ...ctx, keepUnknown: true })).toBe('SELECT $__dashboard');
  });

  it('quotes variable values as SQL literals', () => {
    const vars = { service: ['a', "o'neil"], empty: [] as string[], one: 'x' };
    expect(expandMacros('s IN ($service) AND t IN (${empty}) AND u = $one AND $other', { ...ctx, variables: vars })).toBe(
      "s IN ('a','o''neil') AND t IN (NULL) AND u = 'x' AND $other"
    );
    expect(sqlFormatter(['a', 'b'])).toBe("'a','b'");
    expect(sqlFormatter('x')).toBe("'x'");
  });

  it('passes Grafana template variables through the SQL formatter after the macros', () => {
    const seen: unknown[] = [];
    const templateSrv = {
      replace(target?: string, _vars?: unknown, format?: string | Function) {
        seen.push(target);
        return (target ?? '').replace('$service', (format as Function)(['web', 'api']));
      },
    };
    const sql = interpolate('SELECT 1 FROM t WHERE $__timeFilter(time) AND service IN ($service)', ctx, templateSrv);
    expect(seen[0]).toContain("TIMESTAMP '2025-01-01T00:00:00.000Z'");
    expect(sql).toContain("service IN ('web','api')");
  });

  it('parses durations and chooses round intervals', () => {
    expect(parseDuration('15s')).toBe(15000);
    expect(parseDuration("'2h'")).toBe(7200000);
    expect(parseDuration('later')).toBeNull();
    expect(chooseInterval(from, to, 500)).toBe(10000);
    expect(chooseInterval(from, to, 500, 60000)).toBe(60000);
    expect(chooseInterval(0, 30 * 86400e3, 10)).toBe(3 * 86400e3);
  });
});
