// Sending SQL to Tidewater: through Grafana's backend (the data source
// proxy) inside Grafana, or with fetch (tests, Node).

import type { SqlResult } from './types';

/** Runs SQL on a Tidewater server. */
export interface SqlClient {
  sql(query: string): Promise<SqlResult>;
  /** GET a JSON document under the server's URL (e.g. /api/v1/status/buildinfo). */
  get(path: string): Promise<any>;
}

function failure(status: number, body: any): Error {
  return new Error(body && typeof body.error === 'string' ? body.error : `HTTP ${status}`);
}

/** A client using the global `fetch`, for the server at `baseUrl`. */
export function fetchClient(baseUrl: string, fetchImpl: typeof fetch = fetch): SqlClient {
  const base = baseUrl.replace(/\/$/, '');
  return {
    async sql(query) {
      const resp = await fetchImpl(`${base}/api/v1/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok || body.error) {
        throw failure(resp.status, body);
      }
      return body as SqlResult;
    },
    async get(path) {
      const resp = await fetchImpl(`${base}${path}`);
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        throw failure(resp.status, body);
      }
      return body;
    },
  };
}

/** The part of Grafana's BackendSrv this client uses. */
export interface BackendSrvLike {
  fetch<T>(options: { url: string; method?: string; data?: unknown; headers?: Record<string, string> }): {
    toPromise?: () => Promise<{ data: T }>;
    subscribe: (o: { next: (r: { data: T }) => void; error: (e: any) => void }) => unknown;
  };
}

function once<T>(obs: ReturnType<BackendSrvLike['fetch']>): Promise<{ data: T }> {
  return new Promise((resolve, reject) => {
    obs.subscribe({ next: resolve as any, error: reject });
  });
}

/** A client using Grafana's backend service, for the data source's proxied `url`. */
export function backendSrvClient(url: string, backendSrv: BackendSrvLike): SqlClient {
  const base = url.replace(/\/$/, '');
  const unwrap = (e: any) => failure(e?.status ?? 0, e?.data);
  return {
    async sql(query) {
      try {
        const r = await once<SqlResult & { error?: string }>(
          backendSrv.fetch({ url: `${base}/api/v1/sql`, method: 'POST', data: { query } })
        );
        if (r.data.error) {
          throw new Error(r.data.error);
        }
        return r.data;
      } catch (e: any) {
        throw e instanceof Error ? e : unwrap(e);
      }
    },
    async get(path) {
      try {
        return (await once<any>(backendSrv.fetch({ url: `${base}${path}` }))).data;
      } catch (e: any) {
        throw e instanceof Error ? e : unwrap(e);
      }
    },
  };
}
