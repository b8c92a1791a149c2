// The sessions view: every connected client (all namespaces), what it publishes to and
// subscribes from (derived from the topics of the namespace shown), and a disconnect button.
import { h, setText, setClass, setAttr, toggle, reconcile, setHighlighted } from './dom.js';
import { num, bytes, rate } from './format.js';
import { topicHref, queueHref } from './router.js';
import * as actions from './actions.js';

const COLUMNS = [
  ['Id', 'num'], ['Type', ''], ['Name', ''], ['Version', ''], ['IP', ''], ['Env', ''], ['Namespace', ''],
  ['Connected', 'num'], ['Last in', 'num'], ['Read', 'num'], ['Written', 'num'], ['Read/s', 'num'], ['Written/s', 'num'],
  ['Publishes to / subscribes', ''], ['', ''],
];

export function sessionKind(type) {
  const t = (type || '').toLowerCase();
  if (t.startsWith('http')) return ['HTTP', 'pill http'];
  if (t.startsWith('unix')) return ['UNIX', 'pill unix'];
  return ['TCP', 'pill tcp'];
}

function createRow() {
  const cells = COLUMNS.map(([, cls]) => h('td', { class: cls }));
  const r = { cells, pill: h('span'), proto: h('span', { class: 'dim' }), name: h('span'), links: h('div', { class: 'links' }),
    kick: h('button', { type: 'button', class: 'btn small ghost red', 'data-testid': 'session-kick' }, 'Disconnect') };
  cells[1].append(r.pill, ' ', r.proto);
  cells[2].append(r.name);
  cells[13].append(r.links);
  cells[14].append(r.kick);
  const el = h('tr', { 'data-testid': 'session-row' }, ...cells);
  r.kick.addEventListener('click', () => actions.kickSession(el.__s));
  el.__r = r;
  return el;
}

function linkList(box, list, ns) {
  const sig = list.map((x) => x.kind + x.topic + '\u0000' + (x.queue || '')).join('|') + '|' + ns;
  if (box.__sig === sig) return;
  box.__sig = sig;
  box.textContent = '';
  for (const x of list.slice(0, 12)) {
    box.append(x.kind === 'pub'
      ? h('a', { class: 'badge pub', href: topicHref(x.topic, ns), title: 'publishes to ' + x.topic }, '▲ ' + x.topic)
      : h('a', { class: 'badge sub', href: queueHref(x.topic, x.queue, ns), title: `subscribes to ${x.topic} / ${x.queue}` }, `▼ ${x.topic}/${x.queue}`));
  }
  if (list.length > 12) box.append(h('span', { class: 'badge' }, `+${list.length - 12}`));
}

export class SessionsView {
  constructor(section) {
    this.section = section;
    this.info = h('span', { class: 'dim' });
    this.tbody = h('tbody');
    this.table = h('table', { class: 'grid' },
      h('thead', null, h('tr', null, ...COLUMNS.map(([t, cls]) => h('th', { class: cls, scope: 'col' }, t)))), this.tbody);
    this.emptyEl = h('div', { class: 'empty' }, 'No client is connected.');
    section.append(h('div', { class: 'view-head' }, h('h1', null, 'Sessions'), this.info), this.table, this.emptyEl);
  }

  render(model, { needle, ns, target }) {
    // what each session does, from the topics of this namespace
    const uses = new Map();
    const add = (id, x) => {
      let l = uses.get(id);
      if (!l) uses.set(id, (l = []));
      l.push(x);
    };
    for (const item of model.items) {
      for (const p of item.t.publishers || []) add(p.sessionId, { kind: 'pub', topic: item.id });
      for (const s of item.t.subscribers || []) add(s.sessionId, { kind: 'sub', topic: item.id, queue: s.queueId });
    }
    const sessions = model.sessions.slice().sort((a, b) => a.id - b.id);
    setText(this.info, `${num(sessions.length)} connected, all namespaces`);
    this.emptyEl.hidden = sessions.length > 0;
    this.table.hidden = sessions.length === 0;
    reconcile(this.tbody, sessions, (s) => s.id, createRow, (el, s) => {
      const r = el.__r;
      const c = r.cells;
      el.__s = s;
      const [kind, cls] = sessionKind(s.type);
      setText(c[0], s.id);
      setText(r.pill, kind);
      setClass(r.pill, cls);
      const m = /\[(\d+)\]/.exec(s.type || '');
      setText(r.proto, m ? 'P' + m[1] : '');
      const hay = `${s.name || ''} ${s.ip || ''}`.toLowerCase();
      setHighlighted(r.name, s.name || '', needle && hay.includes(needle) ? needle : '');
      toggle(el, 'dimmed', !!needle && !hay.includes(needle) && !(uses.get(s.id) || []).some((x) => x.topic.includes(needle)));
      setText(c[3], s.version || '');
      setText(c[4], s.ip || '');
      setText(c[5], s.envInfo || '');
      setText(c[6], s.namespace || 'default');
      setText(c[7], s.connected || '');
      setText(c[8], s.lastIncoming || '');
      setText(c[9], s.readSize === undefined ? '–' : bytes(s.readSize));
      setText(c[10], s.writtenSize === undefined ? '–' : bytes(s.writtenSize));
      setText(c[11], s.readPerSec === undefined ? '–' : rate(s.readPerSec));
      setText(c[12], s.writtenPerSec === undefined ? '–' : rate(s.writtenPerSec));
      linkList(r.links, uses.get(s.id) || [], ns);
      toggle(el, 'target', target !== null && String(s.id) === String(target));
      setAttr(el, 'data-session', s.id);
    });
  }

  scrollTo(id) {
    const row = this.tbody.querySelector(`tr[data-session="${CSS.escape(String(id))}"]`);
    if (row) row.scrollIntoView({ block: 'center' });
  }
}
