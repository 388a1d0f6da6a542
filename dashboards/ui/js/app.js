// The UI's entry: the navigation bar and the page for the current address
// (see router.js).

import { h, clear } from './dom.js';
import { explorePage } from './explore.js';
import { dashboardListPage, dashboardPage } from './dashboards.js';
import { logsPage } from './logs.js';
import { alertsPage } from './alerts.js';
import { route } from './router.js';
import { signOutButton } from './login.js';

const NAV = [
  ['explore', 'Explore'],
  ['dashboards', 'Dashboards'],
  ['logs', 'Logs'],
  ['alerts', 'Alerts'],
];

let cleanup = null;

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const { path, params } = route();
  const page = path[0] || 'dashboards';
  for (const a of document.querySelectorAll('nav a')) {
    const active = a.dataset.page === page || (page === 'd' && a.dataset.page === 'dashboards');
    a.classList.toggle('active', active);
  }
  const main = clear(document.getElementById('view'));
  const pages = {
    explore: () => explorePage(main, params),
    dashboards: () => dashboardListPage(main),
    d: () => dashboardPage(main, path[1] || '', params),
    logs: () => logsPage(main, params),
    alerts: () => alertsPage(main),
  };
  const show = pages[page];
  if (!show) {
    main.append(h('div', { class: 'empty' }, h('h3', {}, 'Page not found'), h('a', { href: '#/dashboards' }, 'Dashboards')));
    return;
  }
  document.title = `${page === 'd' ? 'Dashboard' : NAV.find(([p]) => p === page)?.[1] || ''} · Tidewater`;
  cleanup = show() || null;
}

function start() {
  const nav = document.querySelector('nav');
  for (const [page, text] of NAV) nav.append(h('a', { href: `#/${page}`, 'data-page': page }, text));
  const signOut = signOutButton();
  if (signOut) document.querySelector('header.top').append(h('div', { class: 'spacer' }), signOut);
  window.addEventListener('hashchange', render);
  render();
}

start();
