// Time ranges: `now-1h` / `now` / absolute times, the time picker and the
// auto-refresh picker.

import { h } from './dom.js';
import { parseDuration } from './macros.js';
import { formatDateTime } from './format.js';

export const PRESETS = [
  ['now-5m', 'Last 5 minutes'],
  ['now-15m', 'Last 15 minutes'],
  ['now-30m', 'Last 30 minutes'],
  ['now-1h', 'Last 1 hour'],
  ['now-6h', 'Last 6 hours'],
  ['now-24h', 'Last 24 hours'],
  ['now-7d', 'Last 7 days'],
];

export const REFRESH = ['', '5s', '10s', '30s', '1m', '5m'];

/**
 * Milliseconds since the epoch for `now`, `now-15m`, `now+1h`, epoch
 * milliseconds, or an ISO date; NaN if it is none of these.
 * @param {string} expr
 * @param {number} [now]
 */
export function parseTime(expr, now = Date.now()) {
  const s = String(expr).trim();
  if (s === 'now') return now;
  const m = /^now([+-])(\d+(?:ms|s|m|h|d|w))$/.exec(s);
  if (m) {
    const d = parseDuration(m[2]);
    return d === null ? NaN : m[1] === '-' ? now - d : now + d;
  }
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? NaN : t;
}

/** {from, to} in epoch ms for a range of expressions; throws on a bad range. */
export function resolveRange(range, now = Date.now()) {
  const from = parseTime(range.from, now);
  const to = parseTime(range.to, now);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new Error(`invalid time range ${range.from} to ${range.to}`);
  if (from >= to) throw new Error('the start of the time range must be before its end');
  return { from, to };
}

function label(range) {
  const preset = PRESETS.find(([from]) => from === range.from && range.to === 'now');
  if (preset) return preset[1];
  const show = (x) => (/^\d+$/.test(x) ? formatDateTime(Number(x)) : x);
  return `${show(range.from)} to ${show(range.to)}`;
}

/**
 * The time picker: a preset menu plus free `from` / `to` fields.
 * @param {{from: string, to: string}} range
 * @param {(r: {from: string, to: string}) => void} onChange
 */
export function timePicker(range, onChange) {
  const from = h('input', { value: range.from, 'aria-label': 'From', size: 16 });
  const to = h('input', { value: range.to, 'aria-label': 'To', size: 16 });
  const panel = h(
    'div',
    { class: 'picker-panel', hidden: true },
    h('div', { class: 'presets' }, ...PRESETS.map(([f, text]) =>
      h('button', { type: 'button', onclick: () => done({ from: f, to: 'now' }) }, text))),
    h('form', {
      class: 'custom',
      onsubmit: (e) => {
        e.preventDefault();
        done({ from: from.value.trim(), to: to.value.trim() });
      },
    }, h('label', {}, 'From ', from), h('label', {}, 'To ', to), h('button', { type: 'submit' }, 'Apply')),
  );
  const button = h('button', { type: 'button', class: 'picker-button', onclick: () => (panel.hidden = !panel.hidden) },
    label(range));
  function done(r) {
    panel.hidden = true;
    try {
      resolveRange(r);
    } catch (e) {
      alert(e.message);
      return;
    }
    onChange(r);
  }
  return h('div', { class: 'time-picker' }, button, panel);
}

/**
 * Auto refresh: off, 5s, 10s, ...
 * @param {string} value
 * @param {(v: string) => void} onChange
 */
export function refreshPicker(value, onChange) {
  const select = h('select', { 'aria-label': 'Auto refresh', onchange: () => onChange(select.value) },
    ...REFRESH.map((r) => h('option', { value: r, selected: r === value }, r ? `every ${r}` : 'refresh off')));
  return select;
}
