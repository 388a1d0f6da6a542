// One panel: expand its SQL, run it, draw it as a time series, stat, table
// or log list. The panel element's `data-state` says how it ended
// (loading, ok, empty, error), which the browser tests read.

import { h, clear } from './dom.js';
import { sql } from './api.js';
import { expandMacros, chooseInterval, parseDuration } from './macros.js';
import { toSeries, isNumericType, isTimeType, toNumber } from './series.js';
import { renderChart } from './chart.js';
import { renderTable } from './table.js';
import { renderLogLines } from './logs.js';
import { formatValue } from './format.js';

/** The table a "table not found" error names, if it is one. */
export function missingTable(message) {
  const m = /table '([^']+)' not found/i.exec(message);
  return m ? m[1].replace(/^tidewater\.public\./, '') : null;
}

/**
 * Run `panel` and draw it into `body`; `frame` gets `data-state`.
 * @param {HTMLElement} frame
 * @param {HTMLElement} body
 * @param {{title: string, type: string, sql: string, unit?: string, minInterval?: string}} panel
 * @param {{from: number, to: number, variables: Record<string, string[]>, onZoom?: Function, signal?: AbortSignal, tableFallback?: boolean}} ctx
 *   `tableFallback`: draw a table when a time-series result has no time column
 */
export async function runPanel(frame, body, panel, ctx) {
  frame.dataset.state = 'loading';
  frame.classList.add('loading');
  try {
    const width = body.getBoundingClientRect().width || 800;
    const minMs = parseDuration(panel.minInterval || '') || 1000;
    const intervalMs = chooseInterval(ctx.from, ctx.to, Math.max(50, Math.floor(width / 3)), minMs);
    const query = expandMacros(panel.sql, { from: ctx.from, to: ctx.to, intervalMs, variables: ctx.variables });
    frame.dataset.sql = query;
    const result = await sql(query, ctx.signal);
    const started = performance.now();
    const empty = draw(body, panel, result, ctx);
    frame.dataset.drawMs = String(Math.round(performance.now() - started));
    frame.dataset.state = empty ? 'empty' : 'ok';
  } catch (e) {
    if (e.name === 'AbortError') return;
    const table = missingTable(e.message);
    clear(body);
    if (table) {
      body.append(h('div', { class: 'no-data' }, 'No data yet', h('small', {}, `table ${table} does not exist`)));
      frame.dataset.state = 'empty';
    } else {
      body.append(h('div', { class: 'panel-error' }, e.message));
      frame.dataset.state = 'error';
    }
  } finally {
    frame.classList.remove('loading');
  }
}

/** Draw a result; returns true when there was nothing to draw. */
function draw(body, panel, result, ctx) {
  clear(body);
  if (!result.rows.length) {
    body.append(h('div', { class: 'no-data' }, 'No data'));
    return true;
  }
  switch (panel.type) {
    case 'table':
      renderTable(body, result);
      return false;
    case 'logs':
      renderLogLines(body, result);
      return false;
    case 'stat':
      return stat(body, result, panel.unit);
    default: {
      let series;
      try {
        ({ series } = toSeries(result));
      } catch (e) {
        if (!ctx.tableFallback) throw e;
        renderTable(body, result);
        return false;
      }
      if (!series.length) {
        body.append(h('div', { class: 'no-data' }, 'No data'));
        return true;
      }
      renderChart(body, series, { from: ctx.from, to: ctx.to, unit: panel.unit, onZoom: ctx.onZoom });
      return false;
    }
  }
}

/** Big numbers: the last row's value, one per row when rows have labels and no time. */
function stat(body, result, unit) {
  const cols = result.columns;
  const v = cols.findIndex((c) => isNumericType(c.type));
  if (v < 0) throw new Error('a stat panel needs a numeric column');
  const hasTime = cols.some((c) => isTimeType(c.type));
  const labels = cols.map((c, i) => i).filter((i) => i !== v && !isTimeType(cols[i].type) && !isNumericType(cols[i].type));
  const rows = hasTime || !labels.length ? [result.rows[result.rows.length - 1]] : result.rows.slice(0, 12);
  body.append(h('div', { class: 'stats' }, ...rows.map((r) => h('div', { class: 'stat' },
    h('div', { class: 'stat-value' }, formatValue(toNumber(r[v]), unit)),
    labels.length ? h('div', { class: 'stat-label' }, labels.map((i) => r[i]).join(', ')) : null))));
  return false;
}
