// Signing in when authentication is on. The page and its files are public;
// an API call answered 401 shows a form for a token, which is posted to
// /api/v1/login. The server answers with an HttpOnly session cookie (the
// page never sees the token again) and the page reloads.

import { h } from './dom.js';

/** Sent with every API call: a 401 then comes without a basic-auth challenge, so the browser shows no dialog. */
export const UI_HEADERS = { 'x-requested-with': 'tidewater-ui' };

const SIGNED_IN = 'tidewater.signedIn';

/** Show the login form over the page (once), with an optional message. */
export function showLogin(message) {
  localStorage.removeItem(SIGNED_IN);
  if (document.getElementById('login')) return;
  const input = h('input', {
    type: 'password', name: 'token', id: 'login-token', autocomplete: 'current-password',
    required: true, placeholder: 'tw_…', spellcheck: 'false',
  });
  const error = h('p', { class: 'login-error', role: 'alert' }, message || '');
  const submit = async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      const resp = await fetch('/api/v1/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...UI_HEADERS },
        body: JSON.stringify({ token: input.value }),
      });
      if (resp.ok) {
        localStorage.setItem(SIGNED_IN, '1');
        location.reload();
        return;
      }
      const body = await resp.json().catch(() => ({}));
      error.textContent = body.error || `HTTP ${resp.status}`;
      input.select();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const form = h('form', { id: 'login', class: 'login', onsubmit: submit },
    h('h2', {}, 'Sign in to Tidewater'),
    h('label', { for: 'login-token' }, 'Token'),
    input,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    h('p', { class: 'hint' },
      'A token with the read scope. It is kept in an HttpOnly cookie until the browser closes or you sign out.'));
  document.body.append(h('div', { class: 'login-overlay' }, form));
  input.focus();
}

/** A "Sign out" button once this browser signed in with the form, else null. */
export function signOutButton() {
  if (localStorage.getItem(SIGNED_IN) !== '1') return null;
  return h('button', { type: 'button', class: 'sign-out', onclick: async () => {
    localStorage.removeItem(SIGNED_IN);
    await fetch('/api/v1/logout', { method: 'POST', headers: UI_HEADERS }).catch(() => {});
    location.reload();
  } }, 'Sign out');
}
