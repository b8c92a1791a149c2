// The confirmation dialog, the admin-token dialog and toasts. Dialogs are native <dialog>
// elements opened modally: focus stays inside, Esc cancels, focus returns where it was.
import { h } from './dom.js';

const $ = (id) => document.getElementById(id);

function openModal(dialog, focusEl) {
  const back = document.activeElement;
  dialog.showModal();
  if (focusEl) focusEl.focus();
  return () => {
    if (dialog.open) dialog.close();
    if (back && back.isConnected && typeof back.focus === 'function') back.focus();
  };
}

let confirmBusy = null;

// Ask before an action. @body: text or a node; @setup(bodyEl) may return {value(), validate()}
// for dialogs with inputs. Resolves to the value (true without inputs) or null when cancelled.
export function confirmDialog({ title, body, ok = 'OK', danger = false, setup = null }) {
  if (confirmBusy) confirmBusy(null);
  const dialog = $('confirm');
  const form = $('confirm-form');
  const bodyEl = $('confirm-body');
  const okBtn = $('confirm-ok');
  const cancelBtn = $('confirm-cancel');
  $('confirm-title').textContent = title;
  bodyEl.textContent = '';
  if (typeof body === 'string') bodyEl.append(h('p', null, body));
  else if (body) bodyEl.append(body);
  const errEl = h('div', { class: 'err', role: 'alert' });
  bodyEl.append(errEl);
  okBtn.textContent = ok;
  okBtn.className = 'btn ' + (danger ? 'danger' : 'primary');
  const ctl = setup ? setup(bodyEl) : null;
  const firstInput = bodyEl.querySelector('input, select, textarea');
  const close = openModal(dialog, firstInput || (danger ? cancelBtn : okBtn));
  if (firstInput && firstInput.select) firstInput.select();
  return new Promise((resolve) => {
    const finish = (value) => {
      confirmBusy = null;
      form.removeEventListener('submit', onSubmit);
      cancelBtn.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onEsc);
      dialog.removeEventListener('close', onClose);
      close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      if (ctl && ctl.validate) {
        const problem = ctl.validate();
        if (problem) {
          errEl.textContent = problem;
          return;
        }
      }
      finish(ctl && ctl.value ? ctl.value() : true);
    };
    const onCancel = () => finish(null);
    const onEsc = (e) => {
      e.preventDefault();
      finish(null);
    };
    const onClose = () => finish(null);
    confirmBusy = finish;
    form.addEventListener('submit', onSubmit);
    cancelBtn.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onEsc);
    dialog.addEventListener('close', onClose);
  });
}

let tokenWaiters = null;

// Ask for the admin token; resolves to it, or null when cancelled. Concurrent callers share one
// dialog.
export function askToken(serverText) {
  if (tokenWaiters) return new Promise((resolve) => tokenWaiters.push(resolve));
  tokenWaiters = [];
  const dialog = $('token');
  const form = $('token-form');
  const input = $('token-input');
  const cancelBtn = $('token-cancel');
  const text = $('token-text');
  text.textContent =
    'This broker asks for its admin token (HttpAdminToken) for actions that change its state. ' +
    'It is kept for this browser tab only.' +
    (serverText ? '\n' + serverText : '');
  input.value = '';
  const close = openModal(dialog, input);
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener('submit', onSubmit);
      cancelBtn.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onEsc);
      close();
      const waiters = tokenWaiters;
      tokenWaiters = null;
      resolve(value);
      for (const w of waiters) w(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v) finish(v);
    };
    const onCancel = () => finish(null);
    const onEsc = (e) => {
      e.preventDefault();
      finish(null);
    };
    form.addEventListener('submit', onSubmit);
    cancelBtn.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onEsc);
  });
}

// A toast: kind 'ok' | 'error' | 'info'. Errors stay until dismissed or 12 s.
export function toast(kind, title, text = '') {
  const box = $('toasts');
  const close = h('button', { type: 'button', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: 'toast ' + kind, role: kind === 'error' ? 'alert' : 'status' },
    h('div', null, h('div', { class: 't-title' }, title), text ? h('div', { class: 't-text' }, text) : null),
    close);
  close.addEventListener('click', () => el.remove());
  box.append(el);
  while (box.children.length > 5) box.firstChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 12000 : 4000);
}

export function anyDialogOpen() {
  return $('confirm').open || $('token').open;
}
