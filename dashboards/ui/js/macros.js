// SQL macros in the style of Grafana's SQL data sources. Shared by the
// built-in UI and the Grafana plugin (dashboards/grafana-plugin), which
// imports this file: keep it free of DOM and browser APIs.
//
//   $__timeFilter(expr)            expr >= TIMESTAMP 'from' AND expr <= TIMESTAMP 'to'
//   $__timeGroup(expr, interval)   time_bucket(INTERVAL '...', expr)
//   $__timeGroupAlias(expr, iv)    the same, AS time
//   $__timeFrom() / $__timeTo()    TIMESTAMP '...'
//   $__unixEpochFrom() / ...To()   epoch seconds
//   $__interval                    INTERVAL '30 seconds'
//   $__interval_ms                 30000
//   $__from / $__to                epoch milliseconds
//   $name / ${name}                a variable's values as quoted SQL literals: 'a','b' (NULL if none)

const UNITS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/**
 * Milliseconds of a duration like `500ms`, `15s`, `1m`, `2h`, `1d`, `1w`
 * (optionally quoted); null if it is not one.
 * @param {string} text
 * @returns {number|null}
 */
export function parseDuration(text) {
  const m = /^'?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*'?$/.exec(String(text).trim());
  return m ? Number(m[1]) * UNITS[m[2]] : null;
}

/** `INTERVAL '15 seconds'` (or milliseconds when not whole seconds). */
export function intervalSql(ms) {
  const v = Math.max(1, Math.round(ms));
  return v % 1000 === 0 ? `INTERVAL '${v / 1000} seconds'` : `INTERVAL '${v} milliseconds'`;
}

/** `TIMESTAMP '2025-01-01T00:00:00.000Z'`. */
export function timestampSql(ms) {
  return `TIMESTAMP '${new Date(ms).toISOString()}'`;
}

/** A SQL string literal: `'it''s'`. */
export function quoteLiteral(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** Values as a list of SQL literals for `IN (...)`; `NULL` when empty. */
export function quoteList(values) {
  const list = Array.isArray(values) ? values : [values];
  return list.length ? list.map(quoteLiteral).join(',') : 'NULL';
}

const NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);

/**
 * A round bucket size giving at most about `maxPoints` buckets over the
 * range, and at least `minMs`.
 */
export function chooseInterval(fromMs, toMs, maxPoints = 500, minMs = 1000) {
  const raw = Math.max(minMs, (toMs - fromMs) / Math.max(1, maxPoints));
  return NICE.find((n) => n >= raw) ?? Math.ceil(raw / 86400e3) * 86400e3;
}

/** Split `s` on commas that are not inside parentheses or quotes. */
function splitArgs(s) {
  const out = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const c of s) {
    if (c === "'") quote = !quote;
    if (!quote && c === '(') depth++;
    if (!quote && c === ')') depth--;
    if (!quote && depth === 0 && c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '' || out.length) out.push(cur.trim());
  return out;
}

/** Index of the `)` closing the `(` at `open`, or -1. */
function closing(s, open) {
  let depth = 0;
  let quote = false;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'") quote = !quote;
    else if (!quote && c === '(') depth++;
    else if (!quote && c === ')' && --depth === 0) return i;
  }
  return -1;
}

function intervalArg(arg, ctx) {
  const a = arg.trim();
  if (a === '$__interval' || a === '') return intervalSql(ctx.intervalMs);
  if (a === '$__interval_ms') return intervalSql(ctx.intervalMs);
  if (/^INTERVAL\s/i.test(a)) return a;
  const ms = parseDuration(a);
  if (ms === null) throw new Error(`invalid interval ${a} in $__timeGroup: use $__interval or a duration like 1m`);
  return intervalSql(ms);
}

const FUNCTIONS = {
  timeFilter: (args, ctx) => {
    need(args, 1, 'timeFilter(column)');
    return `(${args[0]} >= ${timestampSql(ctx.from)} AND ${args[0]} <= ${timestampSql(ctx.to)})`;
  },
  timeGroup: (args, ctx) => {
    need(args, 2, 'timeGroup(column, interval)');
    return `time_bucket(${intervalArg(args[1], ctx)}, ${args[0]})`;
  },
  timeGroupAlias: (args, ctx) => `${FUNCTIONS.timeGroup(args, ctx)} AS time`,
  timeFrom: () => null,
  timeTo: () => null,
  unixEpochFrom: (_a, ctx) => String(Math.floor(ctx.from / 1000)),
  unixEpochTo: (_a, ctx) => String(Math.floor(ctx.to / 1000)),
};
FUNCTIONS.timeFrom = (_a, ctx) => timestampSql(ctx.from);
FUNCTIONS.timeTo = (_a, ctx) => timestampSql(ctx.to);

function need(args, n, usage) {
  if (args.length < n || args.slice(0, n).some((a) => a === '')) throw new Error(`macro $__${usage} needs ${n} argument(s)`);
}

/**
 * Expand the macros and variables of `sql`.
 * @param {string} sql
 * @param {{from: number, to: number, intervalMs: number, variables?: Record<string, string[]|string>, keepUnknown?: boolean}} ctx
 *   times in epoch milliseconds; `variables` maps names to their values;
 *   `keepUnknown` leaves other `$__name`s for a later step (Grafana's own
 *   variables) instead of refusing them
 * @returns {string}
 */
export function expandMacros(sql, ctx) {
  let out = '';
  let i = 0;
  const fn = /\$__(timeFilter|timeGroupAlias|timeGroup|timeFrom|timeTo|unixEpochFrom|unixEpochTo)\s*\(/g;
  let m;
  while ((m = fn.exec(sql)) !== null) {
    const open = m.index + m[0].length - 1;
    const close = closing(sql, open);
    if (close < 0) throw new Error(`macro $__${m[1]} is missing its closing parenthesis`);
    out += sql.slice(i, m.index) + FUNCTIONS[m[1]](splitArgs(sql.slice(open + 1, close)), ctx);
    i = close + 1;
    fn.lastIndex = i;
  }
  out += sql.slice(i);
  out = out
    .replace(/\$__interval_ms\b/g, String(Math.round(ctx.intervalMs)))
    .replace(/\$__interval\b/g, intervalSql(ctx.intervalMs))
    .replace(/\$__from\b/g, String(Math.round(ctx.from)))
    .replace(/\$__to\b/g, String(Math.round(ctx.to)));
  const unknown = /\$__\w+/.exec(out);
  if (unknown && !ctx.keepUnknown) throw new Error(`unknown macro ${unknown[0]}`);
  const vars = ctx.variables || {};
  return out.replace(/\$\{(\w+)\}|\$([A-Za-z_]\w*)/g, (whole, braced, bare) => {
    const name = braced || bare;
    return Object.prototype.hasOwnProperty.call(vars, name) ? quoteList(vars[name]) : whole;
  });
}
