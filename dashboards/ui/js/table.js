// A result as an HTML table (first rows only; the rest is counted).

import { h, clear } from './dom.js';
import { formatDateTime } from './format.js';
import { isTimeType, isNumericType, parseTimestamp } from './series.js';

const MAX_ROWS = 1000;

/**
 * @param {HTMLElement} container
 * @param {{columns: {name: string, type: string}[], rows: any[][]}} result
 */
export function renderTable(container, result) {
  clear(container);
  const cols = result.columns;
  const cell = (v, c) => {
    if (v === null) return h('td', { class: 'null' }, 'NULL');
    if (isTimeType(c.type)) {
      const t = parseTimestamp(v);
      return h('td', { title: String(v) }, Number.isNaN(t) ? String(v) : formatDateTime(t));
    }
    return h('td', { class: isNumericType(c.type) ? 'num' : '' }, typeof v === 'object' ? JSON.stringify(v) : String(v));
  };
  const table = h('table', { class: 'result' },
    h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { title: c.type }, c.name)))),
    h('tbody', {}, ...result.rows.slice(0, MAX_ROWS).map((r) => h('tr', {}, ...r.map((v, i) => cell(v, cols[i]))))));
  container.append(h('div', { class: 'table-wrap' }, table));
  const more = result.rows.length - MAX_ROWS;
  container.append(h('div', { class: 'muted' },
    `${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${more > 0 ? ` (first ${MAX_ROWS} shown)` : ''}`));
}
