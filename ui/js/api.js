// The broker's write calls (node.md §6.2) with the admin token: a 401 asks for it in a dialog,
// keeps it in sessionStorage (this tab only) and retries; errors carry the server's text.
import { askToken } from './dialogs.js';

const TOKEN_KEY = 'msb_admin_token';

export class ApiError extends Error {
  constructor(status, message, cancelled = false) {
    super(message);
    this.status = status;
    this.cancelled = cancelled;
  }
}

let namespace = 'default';
export function setNamespace(ns) {
  namespace = ns || 'default';
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

export async function api(method, path, { params, body } = {}) {
  let refused = false;
  for (;;) {
    const headers = {};
    if (namespace !== 'default') headers.ns = namespace;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    let payload;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path + query(params), { method, headers, body: payload, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, `The broker did not answer (${e.message}).`);
    }
    if (resp.status === 401) {
      const text = (await resp.text()).trim();
      const entered = await askToken(token || refused ? 'The broker refused that token. ' + text : text);
      if (entered === null) throw new ApiError(401, 'Cancelled: no admin token given.', true);
      sessionStorage.setItem(TOKEN_KEY, entered);
      refused = true;
      continue;
    }
    const text = await resp.text();
    if (!resp.ok) throw new ApiError(resp.status, text.trim() || `${resp.status} ${resp.statusText}`);
    const type = resp.headers.get('Content-Type') || '';
    if (type.includes('json') && text) return JSON.parse(text);
    return text;
  }
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function hasToken() {
  return !!sessionStorage.getItem(TOKEN_KEY);
}
