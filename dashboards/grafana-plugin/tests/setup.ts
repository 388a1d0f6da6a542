// @grafana/data reads `window.localStorage` when it is loaded; Grafana runs
// it in a browser, these tests in Node (real sockets for the integration
// test). A Map-backed localStorage and inert window listeners are all it needs.
const storage = new Map<string, string>();
const g = globalThis as any;
g.window ??= g;
g.localStorage ??= {
  getItem: (k: string) => (storage.has(k) ? storage.get(k)! : null),
  setItem: (k: string, v: string) => void storage.set(k, String(v)),
  removeItem: (k: string) => void storage.delete(k),
  clear: () => storage.clear(),
};
g.addEventListener ??= () => undefined;
g.removeEventListener ??= () => undefined;
