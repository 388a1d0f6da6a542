// Settings: the Tidewater URL (its HTTP port), reached through Grafana's proxy.

import React from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';

import type { TidewaterOptions } from '../types';

export function ConfigEditor({ options, onOptionsChange }: DataSourcePluginOptionsEditorProps<TidewaterOptions>) {
  return (
    <div className="gf-form-group">
      <label className="gf-form-label" htmlFor="tidewater-url">
        URL of Tidewater's HTTP port
      </label>
      <input
        id="tidewater-url"
        className="gf-form-input"
        placeholder="http://tidewater:4318"
        value={options.url}
        onChange={(e) => onOptionsChange({ ...options, url: e.currentTarget.value, access: 'proxy' })}
      />
      <p>Grafana's server sends the queries (proxy access), so the browser does not need to reach Tidewater.</p>
    </div>
  );
}
