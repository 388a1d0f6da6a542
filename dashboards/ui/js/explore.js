// Explore: a SQL editor with time range and macros; the result as a chart
// (one line per series) or a table. State lives in the URL.

import { h, clear, emptyState } from './dom.js';
import { tables } from './api.js';
import { go } from './router.js';
import { timePicker, resolveRange } from './time.js';
import { runPanel } from './panels.js';

const EXAMPLE = (table) =>
  `SELECT $__timeGroup(time, $__interval) AS time, avg(value) AS value\nFROM ${table}\nWHERE $__timeFilter(time)\nGROUP BY 1\nORDER BY 1`;

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params  q, from, to, view (chart|table)
 */
export function explorePage(main, params) {
  const state = {
    q: params.get('q') || '',
    from: params.get('from') || 'now-1h',
    to: params.get('to') || 'now',
    view: params.get('view') === 'table' ? 'table' : 'chart',
  };
  const controller = new AbortController();
  const nav = (changes) => go('explore', { ...state, ...changes });
  const editor = h('textarea', {
    class: 'sql-editor',
    spellcheck: 'false',
    'aria-label': 'SQL',
    placeholder: 'SELECT ... FROM ... WHERE $__timeFilter(time)   (Ctrl+Enter runs)',
    onkeydown: (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        run();
      }
    },
  }, state.q);
  const run = () => nav({ q: editor.value });
  const viewButton = (v, text) =>
    h('button', { type: 'button', class: state.view === v ? 'toggle on' : 'toggle', onclick: () => nav({ q: editor.value, view: v }) }, text);
  const tableList = h('ul', { class: 'table-list' });
  const frame = h('section', { class: 'panel explore-result', 'data-state': 'idle' });
  const body = h('div', { class: 'panel-body' });
  frame.append(body);

  main.append(
    h('div', { class: 'toolbar' },
      h('h2', {}, 'Explore'),
      h('div', { class: 'spacer' }),
      viewButton('chart', 'Chart'),
      viewButton('table', 'Table'),
      timePicker({ from: state.from, to: state.to }, (r) => nav({ q: editor.value, ...r })),
      h('button', { type: 'button', class: 'primary', id: 'run', onclick: run }, 'Run')),
    h('div', { class: 'explore' },
      h('div', { class: 'explore-main' }, editor,
        h('p', { class: 'hint' }, 'Macros: $__timeFilter(time), $__timeGroup(time, $__interval), $__timeFrom(), $__timeTo(), $__interval, $__from, $__to.'),
        frame),
      h('aside', { class: 'explore-side' }, h('h4', {}, 'Tables'), tableList)),
  );

  tables(controller.signal).then((names) => {
    if (!names.length) {
      tableList.replaceWith(emptyState('No data yet',
        'Send metrics with OTLP to port 4317 (gRPC) or 4318 (/v1/metrics), or logs to /v1/logs; each metric becomes a table.'));
      return;
    }
    for (const n of names) {
      tableList.append(h('li', {}, h('a', { href: '#', title: 'Insert an example query', onclick: (e) => {
        e.preventDefault();
        editor.value = EXAMPLE(n);
        editor.focus();
      } }, n)));
    }
    if (!state.q && names.length) editor.value = EXAMPLE(names.find((n) => n !== 'logs') || names[0]);
  }).catch((e) => {
    if (e.name !== 'AbortError') tableList.replaceWith(h('div', { class: 'panel-error' }, e.message));
  });

  if (state.q.trim()) {
    let range;
    try {
      range = resolveRange(state);
    } catch (e) {
      body.append(h('div', { class: 'panel-error' }, e.message));
      return () => controller.abort();
    }
    runPanel(frame, body, { title: 'Explore', type: state.view === 'table' ? 'table' : 'timeseries', sql: state.q }, {
      ...range,
      variables: {},
      tableFallback: true,
      signal: controller.signal,
      onZoom: (from, to) => nav({ q: editor.value, from: String(from), to: String(to) }),
    });
  } else {
    clear(body).append(h('div', { class: 'no-data' }, 'Write a query and press Run (Ctrl+Enter).'));
  }
  return () => controller.abort();
}
