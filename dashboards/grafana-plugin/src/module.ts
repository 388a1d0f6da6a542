// Plugin entry: the data source wired to Grafana's backend service (through
// the data source proxy) and template service, with its editors.

import { DataSourcePlugin, type DataSourceInstanceSettings } from '@grafana/data';
import { getBackendSrv, getTemplateSrv } from '@grafana/runtime';

import { backendSrvClient } from './client';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import type { TidewaterOptions, TidewaterQuery } from './types';

class GrafanaDataSource extends DataSource {
  constructor(settings: DataSourceInstanceSettings<TidewaterOptions>) {
    super(settings, { client: backendSrvClient(settings.url ?? '', getBackendSrv() as any), templateSrv: getTemplateSrv() });
  }
}

export const plugin = new DataSourcePlugin<DataSource, TidewaterQuery, TidewaterOptions>(GrafanaDataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
