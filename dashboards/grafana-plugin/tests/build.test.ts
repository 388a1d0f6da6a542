// The built plugin folder (npm run build) and the Grafana dashboards.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { generate, GRAFANA } from '../scripts/grafana-dashboards.mjs';

const dist = join(__dirname, '../dist');

describe('dist', () => {
  it('is a plugin folder Grafana can load', () => {
    expect(existsSync(join(dist, 'module.js')), 'run `npm run build` first').toBe(true);
    const plugin = JSON.parse(readFileSync(join(dist, 'plugin.json'), 'utf8'));
    expect(plugin.type).toBe('datasource');
    expect(plugin.id).toMatch(/^[a-z0-9]+-[a-z0-9]+-datasource$/);
    expect(plugin.info.version).toBe(JSON.parse(readFileSync(join(__dirname, '../package.json'), 'utf8')).version);
    expect(plugin.info.updated).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(existsSync(join(dist, plugin.info.logos.small))).toBe(true);
    const module = readFileSync(join(dist, 'module.js'), 'utf8');
    // AMD, with Grafana's own packages left to Grafana.
    expect(module.startsWith("define(['exports', '@grafana/data', '@grafana/runtime', 'react']")).toBe(true);
    expect(module).toContain('exports.plugin');
    expect(module).toContain('$__timeFilter');
  });
});

describe('Grafana dashboards', () => {
  it('are generated from the built-in ones and up to date (npm run dashboards)', () => {
    const generated = generate() as Record<string, string>;
    expect(Object.keys(generated)).toEqual(['logs-overview.json', 'service-overview.json', 'tidewater-self-monitoring.json']);
    for (const [file, text] of Object.entries(generated)) {
      expect(readFileSync(join(GRAFANA, file), 'utf8'), file).toBe(text);
      const d = JSON.parse(text);
      for (const p of d.panels) {
        expect(p.datasource.type).toBe('tidewater-sql-datasource');
        expect(p.targets[0].rawSql.length).toBeGreaterThan(0);
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      }
    }
  });
});
