// Calls to the server: the SQL API, the dashboards API, the alerting API.
// A 401 shows the login form (login.js).

import { UI_HEADERS, showLogin } from './login.js';

/**
 * Run SQL; resolves to {columns: [{name, type}], rows: [[...]]}.
 * Rejects with the server's error message (also for errors that arrive
 * after the answer started streaming).
 * @param {string} query
 * @param {AbortSignal} [signal]
 */
export async function sql(query, signal) {
  const resp = await fetch('/api/v1/sql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...UI_HEADERS },
    body: JSON.stringify({ query }),
    signal,
  });
  if (resp.status === 401) showLogin();
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new Error(`HTTP ${resp.status}: the answer is not JSON`);
  }
  if (!resp.ok || body.error) throw new Error(body.error || `HTTP ${resp.status}`);
  return body;
}

/** GET a JSON document; rejects on a non-2xx answer with its error message. */
export async function getJSON(url, signal) {
  const resp = await fetch(url, { signal, headers: UI_HEADERS });
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 401) showLogin();
  if (!resp.ok) {
    const err = new Error(body.error || `HTTP ${resp.status}`);
    err.status = resp.status;
    throw err;
  }
  return body;
}

/** Names of the tables in the public schema, sorted. */
export async function tables(signal) {
  const r = await sql(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    signal,
  );
  return r.rows.map((row) => String(row[0]));
}
