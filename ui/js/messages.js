// The message browser: pick a topic, page through its messages by id (GET /api/Messages, from
// memory or from the persistence service), see each one's id, size, time, headers and content
// as text, pretty JSON or hex.
import { h, setText } from './dom.js';
import { num, bytes } from './format.js';
import { messagesHref, go, topicHref } from './router.js';
import { api } from './api.js';

const SHOW_BYTES = 64 * 1024; // more is behind "show all"
const FORMATS = [['auto', 'Auto'], ['text', 'Text'], ['json', 'JSON'], ['hex', 'Hex']];

function decodeBase64(b64) {
  const bin = atob(b64 || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const strict = new TextDecoder('utf-8', { fatal: true });
const loose = new TextDecoder('utf-8');

function asText(data) {
  try {
    const s = strict.decode(data);
    // control characters other than tab, newline, carriage return: not text
    if (/[\u0000-\u0008\u000e-\u001f]/.test(s)) return null;
    return s;
  } catch (e) {
    return null;
  }
}

function hexDump(data, limit) {
  const n = Math.min(data.length, limit);
  const frag = document.createDocumentFragment();
  let lines = '';
  for (let off = 0; off < n; off += 16) {
    let hex = '';
    let asc = '';
    for (let i = 0; i < 16; i++) {
      if (off + i < n) {
        const b = data[off + i];
        hex += b.toString(16).padStart(2, '0') + (i === 7 ? '  ' : ' ');
        asc += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex += i === 7 ? '    ' : '   ';
      }
    }
    lines += off.toString(16).padStart(8, '0') + '  ' + hex + ' ' + asc + '\n';
  }
  frag.append(lines);
  return frag;
}

// JSON with its keys, strings, numbers and literals marked for colour
function prettyJson(value) {
  const text = JSON.stringify(value, null, 2);
  const frag = document.createDocumentFragment();
  const re = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let at = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > at) frag.append(text.slice(at, m.index));
    if (m[1]) {
      frag.append(h('span', { class: m[2] ? 'j-key' : 'j-str' }, m[1]));
      if (m[2]) frag.append(m[2]);
    } else if (m[3]) {
      frag.append(h('span', { class: 'j-lit' }, m[3]));
    } else {
      frag.append(h('span', { class: 'j-num' }, m[4]));
    }
    at = re.lastIndex;
  }
  if (at < text.length) frag.append(text.slice(at));
  return frag;
}

// The content of @data as @format into @pre; returns the format used.
function renderContent(pre, data, format, all) {
  pre.textContent = '';
  const limit = all ? data.length : SHOW_BYTES;
  const cut = data.length > limit;
  let used = format;
  const text = format === 'hex' ? null : asText(data);
  if (format === 'auto') used = text === null ? 'hex' : 'json';
  if (used === 'json') {
    let parsed;
    let ok = false;
    if (text !== null && text.length <= 4 * SHOW_BYTES || all) {
      try {
        parsed = JSON.parse(text !== null ? text : loose.decode(data));
        ok = typeof parsed === 'object' && parsed !== null;
      } catch (e) {
        ok = false;
      }
    }
    if (ok) {
      pre.append(prettyJson(parsed));
      return { used: 'json', cut: false };
    }
    if (format === 'json') pre.append(h('span', { class: 'dim' }, '(not JSON — shown as text)\n'));
    used = 'text';
  }
  if (used === 'text') {
    const s = text !== null ? text : loose.decode(data.subarray(0, limit));
    pre.append(cut && text !== null ? s.slice(0, limit) : s);
    if (!s.length) pre.append(h('span', { class: 'dim' }, '(empty)'));
    return { used, cut };
  }
  pre.append(hexDump(data, limit));
  if (!data.length) pre.append(h('span', { class: 'dim' }, '(empty)'));
  return { used: 'hex', cut };
}

export class MessagesView {
  constructor(section) {
    this.section = section;
    this.topic = null;
    this.from = null;
    this.limit = 20;
    this.format = localStorage.getItem('msb_message_format') || 'auto';
    this.ns = 'default';
    this.topicsSig = '';
    this.loading = 0;
    this.result = null;

    this.select = h('select', { id: 'mb-topic', 'data-testid': 'message-topic', 'aria-label': 'Topic' });
    this.fromInput = h('input', { type: 'number', min: '0', step: '1', placeholder: 'from id', 'aria-label': 'From message id', 'data-testid': 'message-from' });
    this.limitSel = h('select', { 'aria-label': 'Messages per page' }, ...[20, 50, 100].map((n) => h('option', { value: String(n) }, `${n} per page`)));
    this.btnFirst = h('button', { type: 'button', class: 'btn', title: 'The oldest messages still stored' }, '⇤ Oldest');
    this.btnPrev = h('button', { type: 'button', class: 'btn', 'data-testid': 'message-prev' }, '← Older');
    this.btnNext = h('button', { type: 'button', class: 'btn', 'data-testid': 'message-next' }, 'Newer →');
    this.btnLast = h('button', { type: 'button', class: 'btn', title: 'The newest messages' }, 'Newest ⇥');
    this.btnReload = h('button', { type: 'button', class: 'btn', title: 'Load this page again' }, '↻');
    this.seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Show content as' });
    for (const [f, label] of FORMATS) {
      const b = h('button', { type: 'button', 'aria-pressed': String(f === this.format), 'data-format': f }, label);
      b.addEventListener('click', () => this.setFormat(f));
      this.seg.append(b);
    }
    this.info = h('p', { class: 'mb-info', 'aria-live': 'polite' });
    this.list = h('div', { class: 'msgs' });
    const bar = h('div', { class: 'mb-bar' }, this.select,
      h('form', { class: 'mb-go' }, this.fromInput),
      this.limitSel, this.btnFirst, this.btnPrev, this.btnNext, this.btnLast, this.btnReload, this.seg);
    section.append(h('div', { class: 'view-head' }, h('h1', null, 'Messages'),
      h('span', { class: 'dim' }, 'from memory, or from the persistence service when no longer cached')), bar, this.info, this.list);

    this.select.addEventListener('change', () => this.navigate(this.select.value || null, null));
    bar.querySelector('form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = this.fromInput.value.trim();
      if (/^\d+$/.test(v)) this.navigate(this.topic, Number(v));
    });
    this.fromInput.addEventListener('change', () => {
      const v = this.fromInput.value.trim();
      if (/^\d+$/.test(v)) this.navigate(this.topic, Number(v));
    });
    this.limitSel.addEventListener('change', () => {
      this.limit = Number(this.limitSel.value);
      this.load();
    });
    this.btnFirst.addEventListener('click', () => this.navigate(this.topic, this.result ? this.result.minId : 0));
    this.btnPrev.addEventListener('click', () => this.navigate(this.topic, Math.max(this.minId(), (this.from || 0) - this.limit)));
    this.btnNext.addEventListener('click', () => this.result && this.navigate(this.topic, this.result.nextId));
    this.btnLast.addEventListener('click', () => this.navigate(this.topic, this.newestFrom()));
    this.btnReload.addEventListener('click', () => this.load());
    this.knownNext = new Map(); // topic → its next id, from the status
  }

  minId() {
    return this.result && this.result.minId !== undefined ? this.result.minId : 0;
  }

  newestFrom() {
    const next = this.knownNext.get(this.topic);
    return next === undefined ? 0 : Math.max(0, next - this.limit);
  }

  setFormat(f) {
    this.format = f;
    localStorage.setItem('msb_message_format', f);
    for (const b of this.seg.children) b.setAttribute('aria-pressed', String(b.dataset.format === f));
    this.renderMessages();
  }

  navigate(topic, from) {
    go(messagesHref(topic, from, this.ns));
  }

  // the topics of the namespace, for the picker (rebuilt only when the set changes)
  setTopics(model, ns) {
    this.ns = ns;
    for (const it of model.items) this.knownNext.set(it.id, it.t.messageId);
    const ids = model.items.map((it) => it.id).sort();
    const sig = ids.join('\u0000');
    if (sig !== this.topicsSig) {
      this.topicsSig = sig;
      this.select.textContent = '';
      this.select.append(h('option', { value: '' }, ids.length ? '— pick a topic —' : '(no topics)'));
      for (const id of ids) this.select.append(h('option', { value: id }, id));
    }
    if (this.select.value !== (this.topic || '')) this.select.value = this.topic || '';
    if (this.wantNewest && this.knownNext.has(this.topic)) {
      this.wantNewest = false;
      go(messagesHref(this.topic, this.newestFrom(), this.ns), true);
    }
  }

  // the route changed: #/messages[/TOPIC][?from=N]
  show(topic, from) {
    const changed = topic !== this.topic || from !== this.from;
    this.topic = topic;
    if (this.select.value !== (topic || '')) this.select.value = topic || '';
    this.wantNewest = false;
    if (topic && from === null) {
      // no id given: the newest page (once the status says where that is)
      const next = this.knownNext.get(topic);
      if (next !== undefined) {
        go(messagesHref(topic, Math.max(0, next - this.limit), this.ns), true);
        return;
      }
      this.wantNewest = true;
    }
    this.from = from;
    this.fromInput.value = from === null ? '' : String(from);
    if (changed || !this.result) this.load();
  }

  async load() {
    const topic = this.topic;
    this.list.textContent = '';
    this.result = null;
    this.updateButtons();
    if (!topic) {
      setText(this.info, 'Pick a topic to see its messages.');
      return;
    }
    const ticket = ++this.loading;
    setText(this.info, `Loading ${topic}…`);
    try {
      const r = await api('GET', '/api/Messages', { params: { topicId: topic, fromId: this.from || 0, limit: this.limit } });
      if (ticket !== this.loading) return;
      this.result = typeof r === 'string' ? JSON.parse(r) : r;
      for (const m of this.result.messages || []) m.bytes = decodeBase64(m.content);
      this.renderMessages();
    } catch (e) {
      if (ticket !== this.loading) return;
      this.info.textContent = '';
      this.info.append(h('span', { class: 'err' }, `Cannot load the messages of ${topic}: ${e.status ? e.status + ' ' : ''}${e.message}`));
    }
    this.updateButtons();
  }

  updateButtons() {
    const r = this.result;
    const has = !!this.topic;
    this.btnFirst.disabled = !has;
    this.btnLast.disabled = !has;
    this.btnReload.disabled = !has;
    this.btnPrev.disabled = !has || (this.from || 0) <= this.minId();
    this.btnNext.disabled = !has || !r || (this.knownNext.has(this.topic) && r.nextId >= this.knownNext.get(this.topic));
  }

  renderMessages() {
    const r = this.result;
    if (!r) return;
    const msgs = r.messages || [];
    this.list.textContent = '';
    const next = this.knownNext.get(this.topic);
    this.info.textContent = '';
    this.info.append(
      h('a', { href: topicHref(this.topic, this.ns) }, this.topic), ' · ',
      msgs.length
        ? `${msgs.length} message${msgs.length === 1 ? '' : 's'}, ids ${num(msgs[0].id)} – ${num(msgs[msgs.length - 1].id)}`
        : `no message from id ${num(this.from || 0)}`,
      ` · stored from id ${num(r.minId)}`,
      next !== undefined ? ` · next id ${num(next)}` : '');
    for (const m of msgs) this.list.append(this.renderMessage(m));
    if (!msgs.length) this.list.append(h('div', { class: 'empty' }, 'No messages here. Try “Oldest” or “Newest”.'));
  }

  renderMessage(m) {
    const pre = h('pre', { class: 'msg-body', 'data-testid': 'message-content', tabindex: '0' });
    const fmtBadge = h('span', { class: 'badge' });
    const more = h('button', { type: 'button', class: 'btn small ghost' }, 'Show all');
    const copy = h('button', { type: 'button', class: 'btn small ghost', title: 'Copy the content as shown' }, 'Copy');
    let all = false;
    const paint = () => {
      const { used, cut } = renderContent(pre, m.bytes, this.format, all);
      setText(fmtBadge, used);
      more.hidden = !cut && !(pre.scrollHeight > pre.clientHeight + 4);
      pre.classList.toggle('expanded', all);
    };
    more.addEventListener('click', () => {
      all = !all;
      paint();
      more.textContent = all ? 'Collapse' : 'Show all';
      more.hidden = false;
    });
    copy.addEventListener('click', () => navigator.clipboard && navigator.clipboard.writeText(pre.textContent));
    const headers = m.headers || [];
    const el = h('article', { class: 'msg', 'data-testid': 'message-row', 'data-id': String(m.id) },
      h('div', { class: 'msg-head' },
        h('span', { class: 'mid' }, '#' + num(m.id)),
        h('span', { class: 'meta' }, bytes(m.size !== undefined ? m.size : m.bytes.length)),
        m.created ? h('time', { class: 'meta', datetime: m.created, title: m.created }, new Date(m.created).toLocaleString()) : null,
        h('span', { class: m.source === 'persistence' ? 'badge violet' : 'badge green', title: 'where it was read from' }, m.source || 'memory'),
        fmtBadge,
        headers.length
          ? h('span', { class: 'hdrs' }, ...headers.map((x) => h('span', { class: 'hdr' }, h('span', { class: 'hk' }, x.key), '=', x.value)))
          : h('span', { class: 'meta' }, 'no headers'),
        h('span', { style: null, class: 'sb-grow' }), copy, more),
      pre);
    paint();
    requestAnimationFrame(() => {
      if (pre.scrollHeight > pre.clientHeight + 4) more.hidden = false;
    });
    return el;
  }
}
