// Logs: the `logs` table with severity and service filters and a full-text
// search over `body`; a count over time above the lines.

import { h, clear, emptyState } from './dom.js';
import { sql } from './api.js';
import { go } from './router.js';
import { timePicker, resolveRange } from './time.js';
import { quoteLiteral, chooseInterval } from './macros.js';
import { parseTimestamp } from './series.js';
import { formatDateTime } from './format.js';
import { runPanel, missingTable } from './panels.js';

/** OTel severity numbers: each name is the start of its range of four. */
export const SEVERITIES = [['TRACE', 1], ['DEBUG', 5], ['INFO', 9], ['WARN', 13], ['ERROR', 17], ['FATAL', 21]];
const LIMIT = 500;

function severityClass(n) {
  if (n === null || n === undefined) return 'sev-unset';
  const found = [...SEVERITIES].reverse().find(([, min]) => n >= min);
  return `sev-${found ? found[0].toLowerCase() : 'unset'}`;
}

/**
 * Log lines of a result that has some of: time, severity_number,
 * severity_text, service_name, body.
 */
export function renderLogLines(container, result) {
  clear(container);
  const idx = Object.fromEntries(result.columns.map((c, i) => [c.name, i]));
  const get = (row, name) => (idx[name] === undefined ? null : row[idx[name]]);
  const list = h('div', { class: 'log-lines' });
  for (const row of result.rows) {
    const t = parseTimestamp(get(row, 'time'));
    const sevNum = get(row, 'severity_number');
    const sev = get(row, 'severity_text') || (sevNum === null ? '' : String(sevNum));
    list.append(h('div', { class: `log-line ${severityClass(sevNum)}` },
      h('span', { class: 'log-time' }, Number.isNaN(t) ? '' : formatDateTime(t)),
      h('span', { class: 'log-sev' }, sev),
      h('span', { class: 'log-service' }, get(row, 'service_name') || ''),
      h('span', { class: 'log-body' }, String(get(row, 'body') ?? ''))));
  }
  container.append(list);
}

/** The WHERE clause of the filters (time, severity, service, search text). */
export function logsWhere({ severity, service, search }) {
  const parts = ['$__timeFilter(time)'];
  const min = SEVERITIES.find(([name]) => name === severity);
  if (min) parts.push(`severity_number >= ${min[1]}`);
  if (service) parts.push(`service_name = ${quoteLiteral(service)}`);
  if (search) parts.push(`body ILIKE ${quoteLiteral(`%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
  return parts.join(' AND ');
}

/**
 * @param {HTMLElement} main
 * @param {URLSearchParams} params  from, to, severity, service, q
 */
export function logsPage(main, params) {
  const state = {
    from: params.get('from') || 'now-1h',
    to: params.get('to') || 'now',
    severity: params.get('severity') || '',
    service: params.get('service') || '',
    q: params.get('q') || '',
  };
  const controller = new AbortController();
  const nav = (changes) => go('logs', { ...state, ...changes });
  const search = h('input', { type: 'search', value: state.q, placeholder: 'Search log bodies', 'aria-label': 'Search' });
  const severity = h('select', { 'aria-label': 'Severity', onchange: () => nav({ severity: severity.value, q: search.value }) },
    h('option', { value: '' }, 'any severity'),
    ...SEVERITIES.map(([name]) => h('option', { value: name, selected: name === state.severity }, `${name} and above`)));
  const service = h('select', { 'aria-label': 'Service', onchange: () => nav({ service: service.value, q: search.value }) },
    h('option', { value: '' }, 'all services'));
  main.append(h('div', { class: 'toolbar' },
    h('h2', {}, 'Logs'),
    h('form', { class: 'log-filters', onsubmit: (e) => {
      e.preventDefault();
      nav({ q: search.value });
    } }, severity, service, search, h('button', { type: 'submit', class: 'primary' }, 'Search')),
    h('div', { class: 'spacer' }),
    timePicker({ from: state.from, to: state.to }, (r) => nav({ ...r, q: search.value }))));
  const histFrame = h('section', { class: 'panel logs-histogram' });
  const histBody = h('div', { class: 'panel-body' });
  histFrame.append(histBody);
  const linesFrame = h('section', { class: 'panel logs-panel' });
  const linesBody = h('div', { class: 'panel-body' });
  linesFrame.append(h('header', {}, h('h3', {}, `Newest ${LIMIT} lines`)), linesBody);
  main.append(histFrame, linesFrame);

  let range;
  try {
    range = resolveRange(state);
  } catch (e) {
    linesBody.append(h('div', { class: 'panel-error' }, e.message));
    return () => controller.abort();
  }
  const where = logsWhere({ severity: state.severity, service: state.service, search: state.q });
  sql("SELECT DISTINCT service_name FROM logs WHERE service_name IS NOT NULL ORDER BY 1 LIMIT 1000", controller.signal)
    .then((r) => {
      for (const [name] of r.rows) service.append(h('option', { value: name, selected: name === state.service }, name));
      run();
    })
    .catch((e) => {
      if (e.name === 'AbortError') return;
      if (missingTable(e.message)) {
        clear(main).append(emptyState('No logs yet',
          'Send OpenTelemetry logs to port 4317 (gRPC) or 4318 (/v1/logs); they are stored in the logs table.'));
      } else {
        linesBody.append(h('div', { class: 'panel-error' }, e.message));
      }
    });

  function run() {
    const ctx = { ...range, variables: {}, signal: controller.signal, onZoom: (from, to) => nav({ from: String(from), to: String(to), q: search.value }) };
    const intervalMs = chooseInterval(range.from, range.to, 120);
    runPanel(histFrame, histBody, {
      title: 'Lines', type: 'timeseries', unit: 'short',
      minInterval: `${intervalMs / 1000}s`,
      sql: `SELECT $__timeGroup(time, $__interval) AS time, count(*) AS lines FROM logs WHERE ${where} GROUP BY 1 ORDER BY 1`,
    }, ctx);
    runPanel(linesFrame, linesBody, {
      title: 'Logs', type: 'logs',
      sql: `SELECT time, severity_number, severity_text, service_name, body FROM logs WHERE ${where} ORDER BY time DESC LIMIT ${LIMIT}`,
    }, ctx);
  }
  return () => controller.abort();
}
