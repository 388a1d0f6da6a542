// Turning a SQL answer ({columns, rows}) into time series. Shared by the
// built-in UI and the Grafana plugin (which imports this file): keep it free
// of DOM and browser APIs.
//
// The time column is the column named `time` if it is a timestamp, else the
// first timestamp column. Numeric columns are values; the other columns are
// labels. Every distinct label set gives one series per value column ("long"
// results: time, service, value), and several value columns give one series
// each ("wide" results: time, p50, p99).

/** Whether an Arrow type name (as the SQL API reports it) is a time. */
export function isTimeType(type) {
  return /^(Timestamp|Date)/.test(String(type));
}

/** Whether an Arrow type name is numeric. */
export function isNumericType(type) {
  return /^(Int|UInt|Float|Decimal)\d*/.test(String(type));
}

/**
 * Epoch milliseconds of an RFC 3339 time as the SQL API writes it (up to
 * nanoseconds, `Z` or an offset), a date, or a number (taken as ms).
 * NaN if it cannot be read.
 */
export function parseTimestamp(v) {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?)?\s*(Z|[+-]\d\d:?\d\d)?$/.exec(v.trim());
  if (!m) return Date.parse(v);
  const frac = m[3] ? Number(`0.${m[3]}`) * 1000 : 0;
  const base = Date.parse(`${m[1]}T${m[2] || '00:00:00'}${m[4] || 'Z'}`);
  return base + frac;
}

/** A JSON cell as a number: numbers, the strings NaN/inf/-inf; null stays null. */
export function toNumber(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'inf' || v === '+inf' || v === 'Infinity') return Infinity;
  if (v === '-inf' || v === '-Infinity') return -Infinity;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

/**
 * The time series of a result.
 * @param {{columns: {name: string, type: string}[], rows: any[][]}} result
 * @returns {{timeColumn: string, series: {name: string, field: string, labels: Record<string,string>, times: number[], values: (number|null)[]}[]}}
 * @throws if the result has no timestamp column or no numeric column
 */
export function toSeries(result) {
  const cols = result.columns;
  let t = cols.findIndex((c) => c.name === 'time' && isTimeType(c.type));
  if (t < 0) t = cols.findIndex((c) => isTimeType(c.type));
  if (t < 0) throw new Error('no timestamp column to draw over time: return a `time` column, or use a table');
  const valueIdx = [];
  const labelIdx = [];
  cols.forEach((c, i) => {
    if (i === t) return;
    (isNumericType(c.type) ? valueIdx : labelIdx).push(i);
  });
  if (!valueIdx.length) throw new Error('no numeric column to draw: return a numeric value column');
  const byKey = new Map();
  for (const row of result.rows) {
    const time = parseTimestamp(row[t]);
    if (Number.isNaN(time)) continue;
    const labels = {};
    for (const i of labelIdx) labels[cols[i].name] = row[i] === null ? '' : String(row[i]);
    const labelKey = labelIdx.map((i) => row[i]).join('\u0000');
    for (const v of valueIdx) {
      const key = `${v}\u0001${labelKey}`;
      let s = byKey.get(key);
      if (!s) {
        s = { name: seriesName(cols[v].name, labels, valueIdx.length > 1), field: cols[v].name, labels, times: [], values: [] };
        byKey.set(key, s);
      }
      s.times.push(time);
      s.values.push(toNumber(row[v]));
    }
  }
  // Ordered by label values, then by value column: the legend does not
  // depend on the order of rows within a timestamp.
  const order = [...byKey.entries()].map(([key, s]) => ({ key: key.slice(key.indexOf('\u0001') + 1), col: Number(key.split('\u0001')[0]), s }));
  order.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.col - b.col));
  const series = order.map((o) => o.s);
  for (const s of series) sortByTime(s);
  return { timeColumn: cols[t].name, series };
}

function seriesName(field, labels, manyFields) {
  const vals = Object.values(labels);
  if (!vals.length) return field;
  const lab = vals.map((v) => v || '∅').join(', ');
  return manyFields ? `${field} ${lab}` : lab;
}

function sortByTime(s) {
  for (let i = 1; i < s.times.length; i++) {
    if (s.times[i] < s.times[i - 1]) {
      const idx = s.times.map((_, j) => j).sort((a, b) => s.times[a] - s.times[b]);
      s.times = idx.map((j) => s.times[j]);
      s.values = idx.map((j) => s.values[j]);
      return;
    }
  }
}
