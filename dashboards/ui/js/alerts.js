// Alerts: firing and pending alerts, and SLOs with error budget and burn
// rates, from the alerting API. Without rules (or without the alerting
// API) the page says that alerting is not configured.

import { h, emptyState } from './dom.js';
import { getJSON } from './api.js';
import { parseTimestamp } from './series.js';
import { formatDateTime } from './format.js';

const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)}%`);
const num = (x) => (x === null || x === undefined ? '–' : Number(x).toFixed(2));

/** @param {HTMLElement} main */
export function alertsPage(main) {
  const controller = new AbortController();
  main.append(h('div', { class: 'toolbar' }, h('h2', {}, 'Alerts')));
  load(main, controller.signal).catch((e) => {
    if (e.name !== 'AbortError') main.append(h('div', { class: 'panel-error' }, e.message));
  });
  return () => controller.abort();
}

async function load(main, signal) {
  let rules;
  let alerts;
  let slos;
  try {
    [rules, alerts, slos] = await Promise.all([
      getJSON('/api/v1/rules', signal),
      getJSON('/api/v1/alerts', signal),
      getJSON('/api/v1/slos', signal),
    ]);
  } catch (e) {
    if (e.status === 404) {
      main.append(notConfigured());
      return;
    }
    throw e;
  }
  const groups = rules.data?.groups || [];
  if (!groups.length) {
    main.append(notConfigured());
    return;
  }
  const list = (alerts.data?.alerts || []).filter((a) => a.state === 'firing' || a.state === 'pending');
  list.sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1));
  const ruleCount = groups.reduce((n, g) => n + g.rules.length, 0);
  const broken = groups.flatMap((g) => g.rules.filter((r) => r.health === 'err').map((r) => ({ g, r })));
  main.append(h('p', { class: 'muted' },
    `${ruleCount} rules in ${groups.length} groups; ${list.filter((a) => a.state === 'firing').length} firing, ` +
    `${list.filter((a) => a.state === 'pending').length} pending.`));
  main.append(h('section', { class: 'panel' }, h('header', {}, h('h3', {}, 'Firing and pending')),
    list.length
      ? h('table', { class: 'result' },
        h('thead', {}, h('tr', {}, ...['State', 'Alert', 'Labels', 'Value', 'Active since', 'Summary'].map((t) => h('th', {}, t)))),
        h('tbody', {}, ...list.map((a) => h('tr', { class: `alert-${a.state}` },
          h('td', {}, h('span', { class: `badge ${a.state}` }, a.state)),
          h('td', {}, a.labels.alertname || ''),
          h('td', {}, Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(', ')),
          h('td', { class: 'num' }, a.value),
          h('td', {}, formatDateTime(parseTimestamp(a.activeAt))),
          h('td', {}, a.annotations?.summary || '')))))
      : h('div', { class: 'no-data' }, 'Nothing firing or pending.')));
  const sloRows = (slos.data?.slos || []).flatMap((s) => (s.status.length ? s.status : [null]).map((st) => ({ s, st })));
  if (sloRows.length) {
    main.append(h('section', { class: 'panel' }, h('header', {}, h('h3', {}, 'SLOs')),
      h('table', { class: 'result' },
        h('thead', {}, h('tr', {}, ...['SLO', 'Service', 'Objective', 'Window', 'Error budget left', 'Burn rates (long / short)'].map((t) => h('th', {}, t)))),
        h('tbody', {}, ...sloRows.map(({ s, st }) => h('tr', {},
          h('td', {}, s.name, s.lastError ? h('div', { class: 'panel-error inline' }, s.lastError) : null),
          h('td', {}, s.service),
          h('td', { class: 'num' }, `${s.objective}%`),
          h('td', {}, s.window),
          h('td', { class: `num ${st && st.error_budget_remaining < 0 ? 'bad' : ''}` }, st ? pct(st.error_budget_remaining) : 'no data yet'),
          h('td', {}, st ? st.burn_rates.map((b) => h('div', { class: b.firing ? 'bad' : '' },
            `${b.severity}: ${num(b.long)} / ${num(b.short)} (threshold ${b.factor})`)) : '')))))));
  }
  if (broken.length) {
    main.append(h('section', { class: 'panel' }, h('header', {}, h('h3', {}, 'Rules with errors')),
      h('ul', {}, ...broken.map(({ g, r }) => h('li', {}, `${g.name} / ${r.name}: `, h('span', { class: 'panel-error inline' }, r.lastError))))));
  }
}

function notConfigured() {
  const el = emptyState('Alerting is not configured',
    'No alerting rules are loaded. Set ', h('code', {}, '[alerting] rules_dir'),
    ' in the configuration to a directory of rule files (see docs/alerting.md), then reload with SIGHUP.');
  el.dataset.alerting = 'not-configured';
  return el;
}
