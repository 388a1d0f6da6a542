// The shipped dashboards (../provisioning/*.json, the built-in UI's format)
// as Grafana dashboards using this plugin, written to ../grafana/.
// `npm run dashboards` rewrites them; a test checks they are up to date.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const PROVISIONING = join(here, '../../provisioning');
export const GRAFANA = join(here, '../../grafana');
const PLUGIN_ID = JSON.parse(readFileSync(join(here, '../src/plugin.json'), 'utf8')).id;
const DS = { type: PLUGIN_ID, uid: '${DS_TIDEWATER}' };
const ALERT_SQL =
  "SELECT time, rule AS title, concat(from_state, ' -> ', to_state, ' (value ', CAST(value AS VARCHAR), ')') AS text, " +
  "concat('alertname=', rule, ',', to_state) AS tags\nFROM system.alert_history\nWHERE $__timeFilter(time)\nORDER BY time";
const FORMAT = { timeseries: 'time_series', stat: 'table', table: 'table', logs: 'logs' };

/** One built-in dashboard as a Grafana dashboard. */
export function toGrafana(d) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.width * 2;
    const h = p.type === 'stat' ? 4 : p.type === 'timeseries' ? 8 : 10;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    const panel = {
      id: i + 1,
      type: p.type,
      title: p.title,
      description: p.description || undefined,
      datasource: DS,
      gridPos,
      targets: [{ refId: 'A', datasource: DS, rawSql: p.sql, format: FORMAT[p.type] }],
      fieldConfig: { defaults: p.unit ? { unit: p.unit } : {}, overrides: [] },
      options: {},
    };
    if (p.minInterval) panel.interval = p.minInterval;
    if (p.type === 'stat') panel.options = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } };
    return panel;
  });
  return {
    __inputs: [{ name: 'DS_TIDEWATER', label: 'Tidewater', type: 'datasource', pluginId: PLUGIN_ID, pluginName: 'Tidewater' }],
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: d.tags,
    editable: true,
    schemaVersion: 39,
    time: d.time,
    refresh: d.refresh,
    annotations: {
      list: [
        { name: 'Alerts', datasource: DS, enable: true, iconColor: 'red', target: { refId: 'Anno', rawSql: ALERT_SQL, format: 'annotations' } },
      ],
    },
    templating: {
      list: d.variables.map((v) => ({
        type: 'query',
        name: v.name,
        label: v.label || v.name,
        datasource: DS,
        query: { refId: v.name, rawSql: v.query, format: 'table' },
        definition: v.query,
        includeAll: v.includeAll,
        multi: true,
        refresh: 2,
        current: {},
      })),
    },
    panels,
  };
}

/** file name -> Grafana JSON text, for every built-in dashboard. */
export function generate() {
  const out = {};
  for (const f of readdirSync(PROVISIONING).filter((n) => n.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(PROVISIONING, f), 'utf8'));
    out[f] = `${JSON.stringify(toGrafana(d), null, 2)}\n`;
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [f, text] of Object.entries(generate())) {
    writeFileSync(join(GRAFANA, f), text);
    console.log(`wrote ${join(GRAFANA, f)}`);
  }
}
