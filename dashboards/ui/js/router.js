// Addresses: the URL's hash holds every page's state
// (#/explore?q=...&from=now-1h&to=now), so a view is shared by copying it.

/** The current route: {path: ['d', 'uid'], params: URLSearchParams}. */
export function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

/**
 * Go to `path` with `params` (an object or URLSearchParams); empty values are left out.
 * @param {string} path
 * @param {Record<string, string|string[]>|URLSearchParams} [params]
 */
export function go(path, params = {}) {
  const p = params instanceof URLSearchParams ? params : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) {
    for (const [k, v] of Object.entries(params)) {
      for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== null && x !== '') p.append(k, x);
    }
  }
  const q = p.toString();
  location.hash = `#/${path}${q ? `?${q}` : ''}`;
}
