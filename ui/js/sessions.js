// The sessions view: every connected client (all namespaces), what it publishes to and
// subscribes from (derived from the topics of the namespace shown), and a disconnect button.
import { h, setText, setClass, setAttr, toggle, show, reconcile, setHighlighted } from './dom.js';
import { num, bytes, rate } from './format.js';
import { topicHref, queueHref } from './router.js';
import * as actions from './actions.js';

// [title, class of the cells]
const COLUMNS = [
  ['Id', 'num'], ['Type', 'nowrap'], ['Client', 'client'], ['Address', 'nowrap addr'],
  ['Connected', 'num'], ['Read', 'num'], ['Written', 'num'], ['Publishes ▲ / subscribes ▼', 'topics'], ['', 'nowrap'],
];

export function sessionKind(type) {
  const t = (type || '').toLowerCase();
  if (t.startsWith('http')) return ['HTTP', 'pill http'];
  if (t.startsWith('unix')) return ['UNIX', 'pill unix'];
  return ['TCP', 'pill tcp'];
}

function createRow() {
  const cells = COLUMNS.map(([, cls]) => h('td', { class: cls }));
  const sub = () => h('div', { class: 'sub2' });
  const r = {
    cells,
    pill: h('span'),
    proto: h('span', { class: 'dim' }),
    name: h('span', { class: 'c-name' }),
    ver: h('span', { class: 'dim' }),
    env: h('span', { class: 'badge cyan' }),
    ns: sub(),
    connected: h('div'),
    lastIn: sub(),
    read: h('div'),
    readRate: sub(),
    written: h('div'),
    writtenRate: sub(),
    links: h('div', { class: 'links' }),
    kick: h('button', { type: 'button', class: 'btn small ghost red', 'data-testid': 'session-kick', title: 'Close this connection' }, 'Disconnect'),
  };
  cells[1].append(r.pill, ' ', r.proto);
  cells[2].append(h('div', null, r.name, ' ', r.ver, ' ', r.env), r.ns);
  cells[4].append(r.connected, r.lastIn);
  cells[5].append(r.read, r.readRate);
  cells[6].append(r.written, r.writtenRate);
  cells[7].append(r.links);
  cells[8].append(r.kick);
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
      h('thead', null, h('tr', null, ...COLUMNS.map(([t, cls]) => h('th', { class: cls === 'num' ? 'num' : '', scope: 'col' }, t)))), this.tbody);
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
      setText(r.ver, s.version || '');
      setText(r.env, s.envInfo || '');
      show(r.env, !!s.envInfo);
      setText(r.ns, 'namespace ' + (s.namespace || 'default'));
      setText(c[3], s.ip || '');
      setText(r.connected, s.connected || '–');
      setText(r.lastIn, s.lastIncoming ? 'last in ' + s.lastIncoming : '');
      setText(r.read, s.readSize === undefined ? '–' : bytes(s.readSize));
      setText(r.readRate, s.readPerSec === undefined ? '' : rate(s.readPerSec));
      setText(r.written, s.writtenSize === undefined ? '–' : bytes(s.writtenSize));
      setText(r.writtenRate, s.writtenPerSec === undefined ? '' : rate(s.writtenPerSec));
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
