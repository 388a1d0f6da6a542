// Dashboards: the list, and one dashboard with its time picker, auto
// refresh and variables. State lives in the URL
// (#/d/uid?from=now-6h&to=now&refresh=30s&var-service=checkout).

import { h, clear, emptyState } from './dom.js';
import { getJSON, sql } from './api.js';
import { go } from './router.js';
import { timePicker, refreshPicker, resolveRange } from './time.js';
import { parseDuration, expandMacros, chooseInterval } from './macros.js';
import { runPanel } from './panels.js';

const ALL = '__all';

/** The list of provisioned dashboards. */
export function dashboardListPage(main) {
  const controller = new AbortController();
  main.append(h('div', { class: 'toolbar' }, h('h2', {}, 'Dashboards')));
  const list = h('div', { class: 'cards' });
  main.append(list);
  getJSON('/api/v1/dashboards', controller.signal).then((r) => {
    for (const d of r.dashboards) {
      list.append(h('a', { class: 'card', href: `#/d/${encodeURIComponent(d.uid)}` },
        h('h3', {}, d.title),
        h('p', {}, d.description),
        h('div', { class: 'tags' }, ...d.tags.map((t) => h('span', { class: 'tag' }, t)),
          h('span', { class: 'muted' }, `${d.panels} panels · ${d.source.kind === 'builtin' ? 'built in' : d.source.path}`))));
    }
    if (!r.dashboards.length) list.append(emptyState('No dashboards', 'Put dashboard JSON files in dashboards_dir.'));
    for (const e of r.errors) main.append(h('div', { class: 'panel-error' }, `Skipped: ${e}`));
  }).catch((e) => {
    if (e.name !== 'AbortError') main.append(h('div', { class: 'panel-error' }, e.message));
  });
  return () => controller.abort();
}

/**
 * One dashboard.
 * @param {HTMLElement} main
 * @param {string} uid
 * @param {URLSearchParams} params
 */
export function dashboardPage(main, uid, params) {
  const controller = new AbortController();
  let timer = null;
  getJSON(`/api/v1/dashboards/${encodeURIComponent(uid)}`, controller.signal)
    .then((d) => show(d))
    .catch((e) => {
      if (e.name === 'AbortError') return;
      main.append(e.status === 404
        ? emptyState('Dashboard not found', `There is no dashboard "${uid}". `, h('a', { href: '#/dashboards' }, 'All dashboards'))
        : h('div', { class: 'panel-error' }, e.message));
    });

  async function show(d) {
    const state = {
      from: params.get('from') || d.time.from,
      to: params.get('to') || d.time.to,
      refresh: params.has('refresh') ? params.get('refresh') : d.refresh,
    };
    const selected = Object.fromEntries(d.variables.map((v) => [v.name, params.getAll(`var-${v.name}`)]));
    const nav = (changes = {}, vars = selected) => {
      const p = { from: state.from, to: state.to, refresh: state.refresh, ...changes };
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) if (v) q.set(k, v);
      for (const [k, vs] of Object.entries(vars)) for (const v of vs) q.append(`var-${k}`, v);
      go(`d/${encodeURIComponent(d.uid)}`, q);
    };
    const refreshButton = h('button', { type: 'button', title: 'Refresh now', onclick: () => runAll() }, '⟳');
    main.append(h('div', { class: 'toolbar' },
      h('h2', { title: d.description }, d.title),
      h('div', { class: 'spacer' }),
      timePicker({ from: state.from, to: state.to }, (r) => nav(r)),
      refreshPicker(state.refresh, (r) => nav({ refresh: r })),
      refreshButton));
    const varBar = h('div', { class: 'variables' });
    if (d.variables.length) main.append(varBar);
    const grid = h('div', { class: 'grid' });
    main.append(grid);
    const panels = d.panels.map((p, i) => {
      const body = h('div', { class: 'panel-body' });
      const frame = h('section', {
        class: `panel panel-${p.type}`,
        style: `grid-column: span ${p.width}`,
        'data-panel': String(i),
        'data-state': 'loading',
      }, h('header', {}, h('h3', { title: p.description || '' }, p.title)), body);
      grid.append(frame);
      return { p, frame, body };
    });

    let values = {};
    async function runAll() {
      let range;
      try {
        range = resolveRange(state);
      } catch (e) {
        for (const x of panels) clear(x.body).append(h('div', { class: 'panel-error' }, e.message));
        return;
      }
      values = await variableValues(d, range, selected, varBar, nav, controller.signal);
      const ctx = { ...range, variables: values, signal: controller.signal, onZoom: (from, to) => nav({ from: String(from), to: String(to) }) };
      await Promise.all(panels.map((x) => runPanel(x.frame, x.body, x.p, ctx)));
    }
    await runAll();
    const every = parseDuration(state.refresh || '');
    if (every) timer = setInterval(() => runAll(), Math.max(1000, every));
  }

  return () => {
    controller.abort();
    if (timer) clearInterval(timer);
  };
}

/**
 * Fill each variable from its query (in order, so later variables may use
 * earlier ones) and draw its selector. Returns name -> selected values.
 */
async function variableValues(d, range, selected, bar, nav, signal) {
  clear(bar);
  const out = {};
  for (const v of d.variables) {
    let options = [];
    let error = null;
    try {
      const intervalMs = chooseInterval(range.from, range.to);
      const r = await sql(expandMacros(v.query, { ...range, intervalMs, variables: out }), signal);
      options = [...new Set(r.rows.map((row) => (row[0] === null ? '' : String(row[0]))))].filter((x) => x !== '');
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      if (!/table '[^']+' not found/i.test(e.message)) error = e.message;
    }
    const chosen = (selected[v.name] || []).filter((x) => x === ALL || options.includes(x));
    const all = v.includeAll && (!chosen.length || chosen.includes(ALL));
    out[v.name] = all ? options : chosen.length ? chosen : options.slice(0, 1);
    const select = h('select', {
      'aria-label': v.label || v.name,
      'data-variable': v.name,
      onchange: () => nav({}, { ...selected, [v.name]: [select.value] }),
    },
      v.includeAll ? h('option', { value: ALL, selected: all }, 'All') : null,
      ...options.map((o) => h('option', { value: o, selected: !all && out[v.name].includes(o) }, o)));
    bar.append(h('label', { class: 'variable' }, `${v.label || v.name} `, select,
      error ? h('span', { class: 'panel-error inline' }, error) : null,
      !options.length && !error ? h('span', { class: 'muted' }, ' (no values yet)') : null));
  }
  return out;
}
