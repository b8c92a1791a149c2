// The topics view: one row per topic (publishers | topic, rates, throughput, pages | queues with
// their ranges and subscribers), in a windowed list so that a thousand topics cost what the
// dozen on screen cost. Each row keeps references to its parts and updates only what changed.
import { h, setText, setClass, toggle, show, setAttr, reconcile, setHighlighted, present } from './dom.js';
import { num, compact, bytes, splitId, shortSid, moment, microseconds } from './format.js';
import { Spark, latencyClass } from './spark.js';
import { VList } from './vlist.js';
import { topicHref, queueHref, messagesHref, sessionHref } from './router.js';
import * as actions from './actions.js';

// what every row reads besides its item; set by main.js before each render
export const ctx = {
  needle: '',
  sessionById: new Map(),
  ns: 'default',
  targetTopic: null,
  targetQueue: null,
  compact: false,
  // waiting counts of a queue's last updates, kept in the browser (set by main.js)
  recentBacklog: () => [],
};

const MAX_RANGES = 8;
const RED_SIZE = 1000;

// ---- matching (the filter box) ----

export function topicMatches(item, needle) {
  if (!needle) return true;
  if (item.id.toLowerCase().includes(needle)) return true;
  for (const q of item.queues) if (q.id.toLowerCase().includes(needle)) return true;
  return false;
}

// ---- publishers ----

function createPub() {
  const r = {
    led: h('span', { class: 'led' }),
    sid: h('a', { class: 'sid' }),
    name: h('span', { class: 'name' }),
    ver: h('span'),
    ip: h('span'),
    env: h('span', { class: 'badge cyan' }),
  };
  const el = h('div', { class: 'pub' }, r.led, r.sid, r.name, h('div', { class: 'meta' }, r.ver, r.ip, r.env));
  el.__r = r;
  return el;
}

function updatePub(el, p) {
  const r = el.__r;
  const s = ctx.sessionById.get(p.sessionId);
  setClass(r.led, p.active > 0 ? 'led on' : 'led');
  setText(r.sid, shortSid(p.sessionId));
  setAttr(r.sid, 'href', sessionHref(p.sessionId, ctx.ns));
  setAttr(r.sid, 'title', `session ${p.sessionId}`);
  setText(r.name, s ? s.name || '?' : `session ${p.sessionId}`);
  setText(r.ver, s && s.version ? s.version : '');
  setText(r.ip, s && s.ip ? s.ip : '');
  setText(r.env, s && s.envInfo ? s.envInfo : '');
  show(r.env, !!(s && s.envInfo));
}

// ---- pages ----

export function createPage() {
  const r = { id: h('span', { class: 'pid' }), bar: h('div', { class: 'pbar' }), info: h('span', { class: 'pinfo' }) };
  const el = h('div', { class: 'page' }, r.id, r.bar, r.info);
  el.__r = r;
  return el;
}

export function updatePage(el, p) {
  const r = el.__r;
  setText(r.id, '#' + p.id);
  const subs = p.subPages || [];
  const sig = subs.join(',') + '|' + (p.persist_size > 0);
  if (r.sig !== sig) {
    r.sig = sig;
    r.bar.textContent = '';
    for (const sp of subs) {
      const tick = document.createElement('i');
      tick.style.left = 2 * sp + 'px';
      r.bar.append(tick);
    }
    setAttr(r.bar, 'title', `page ${p.id}: sub-pages ${subs.length ? subs.join(', ') : 'none'} of 0–99 in memory`);
  }
  setText(r.info, `${compact(p.amount)} msgs · ${bytes(p.size)}` + (p.persist_size ? ` · ${compact(p.persist_size)} to save` : ''));
}

// ---- ranges: the last five digits (the id inside its page) bright ----

function rangeBadge(from, to) {
  const el = h('span', { class: 'range' });
  const idSpan = (id) => {
    const [lead, tail] = splitId(id);
    const tailEl = h('span', { class: 'hi' }, tail);
    return lead ? [h('span', { class: 'lo' }, lead), tailEl] : [tailEl];
  };
  if (from > to) {
    el.classList.add('empty');
    el.title = `empty: the next id expected is ${num(from)}`;
    el.append('→', ...idSpan(from));
  } else if (from === to) {
    el.title = `1 message: ${num(from)}`;
    el.append(...idSpan(from));
  } else {
    el.title = `${num(to - from + 1)} messages: ${num(from)} – ${num(to)}`;
    el.append(...idSpan(from), h('span', { class: 'lo' }, '–'), ...idSpan(to));
  }
  return el;
}

export function renderRanges(box, data, max = MAX_RANGES) {
  const list = data || [];
  let sig = '';
  for (let i = 0; i < list.length && i < max; i++) sig += list[i].fromId + '-' + list[i].toId + ',';
  sig += list.length;
  if (box.__sig === sig) return;
  box.__sig = sig;
  box.textContent = '';
  for (let i = 0; i < list.length && i < max; i++) box.append(rangeBadge(list[i].fromId, list[i].toId));
  if (list.length > max) box.append(h('span', { class: 'badge' }, `+${list.length - max} ranges`));
}

export function queueTypeBadges(type) {
  const auto = (type & 1) !== 0;
  const single = (type & 2) !== 0;
  return {
    auto,
    single,
    life: auto ? ['auto-delete', 'badge amber'] : ['permanent', 'badge blue'],
    conn: single ? ['single', 'badge violet'] : ['multi', 'badge'],
  };
}

// ---- subscribers ----

export function createSub() {
  const r = {
    led: h('span', { class: 'led' }),
    sid: h('a', { class: 'sid' }),
    name: h('span', { class: 'name' }),
    state: h('span', { class: 'badge' }),
    spark: new Spark(120, 16),
  };
  r.nameText = h('span');
  r.ver = h('span', { class: 'dim' });
  r.name.append(r.nameText, r.ver);
  const el = h('div', { class: 'sub' }, r.led, r.sid, r.name, r.state, r.spark.el);
  el.__r = r;
  return el;
}

export function updateSub(el, s) {
  const r = el.__r;
  const sess = ctx.sessionById.get(s.sessionId);
  setClass(r.led, s.active > 0 ? 'led on' : 'led');
  setText(r.sid, shortSid(s.sessionId));
  setAttr(r.sid, 'href', sessionHref(s.sessionId, ctx.ns));
  setText(r.nameText, sess ? sess.name || '?' : `session ${s.sessionId}`);
  setText(r.ver, sess && sess.version ? sess.version : '');
  const busy = s.deliveryState !== 0 && s.deliveryState !== undefined;
  setText(r.state, s.deliveryStateStr || (busy ? 'on delivery' : 'Idle'));
  setClass(r.state, busy ? 'badge red' : 'badge green');
  const hist = s.history || [];
  r.spark.setClass(latencyClass(hist));
  r.spark.set(hist, { min: 1, failures: true });
  let max = 0;
  for (const v of hist) if (v > max) max = v;
  const last = hist.length ? hist[hist.length - 1] : null;
  setAttr(el, 'title',
    `subscriber ${s.id} of session ${s.sessionId}${sess && sess.ip ? ' (' + sess.ip + ')' : ''}` +
    (hist.length ? ` — latency per message: last ${last < 0 ? 'failed' : microseconds(last)}, max ${microseconds(max)} over ${hist.length} s` : ''));
}

// ---- queues ----

function createQueue() {
  const r = {
    name: h('a', { class: 'q-name' }),
    life: h('span'),
    conn: h('span'),
    subsCount: h('span', { class: 'q-subs' }),
    size: h('span', { class: 'q-size' }),
    trend: new Spark(60, 14, 'amber'),
    setId: h('button', { type: 'button', class: 'btn small ghost', title: 'Set the queue\'s first message id' }, 'Set id'),
    del: h('button', { type: 'button', class: 'btn small ghost red', 'data-testid': 'queue-delete' }, 'Delete'),
    ranges: h('div', { class: 'ranges' }),
    subs: h('div', { class: 'subs' }),
  };
  const el = h('div', { class: 'queue', 'data-testid': 'queue-row' },
    h('div', { class: 'q-head' }, r.name, r.life, r.conn, r.subsCount, r.size, (r.actions = h('span', { class: 'q-actions' }, r.setId))),
    h('div', { class: 'q-line2' }, r.ranges, h('span', { class: 'q-trend', title: 'waiting over the last minute (kept in this browser)' }, r.trend.el)),
    r.subs);
  r.setId.addEventListener('click', () => actions.setMessageId(el.__topic, el.__queue));
  r.del.addEventListener('click', () => actions.deleteQueue(el.__topic, el.__queue));
  el.__r = r;
  return el;
}

function updateQueue(el, { topic, q, subs, needle, topicHit }) {
  const r = el.__r;
  el.__topic = topic;
  el.__queue = q;
  if (el.dataset.queue !== q.id) el.dataset.queue = q.id;
  const hit = needle && q.id.toLowerCase().includes(needle);
  setHighlighted(r.name, q.id, hit ? needle : '');
  toggle(el, 'dimmed', !!needle && !topicHit && !hit);
  toggle(el, 'target', ctx.targetTopic === topic.id && ctx.targetQueue === q.id);
  setAttr(r.name, 'href', queueHref(topic.id, q.id, ctx.ns));
  const b = queueTypeBadges(q.queueType);
  setText(r.life, b.life[0]);
  setClass(r.life, b.life[1]);
  setText(r.conn, b.conn[0]);
  setClass(r.conn, b.conn[1]);
  const nSubs = subs.length || q.subscribers || 0;
  setText(r.subsCount, nSubs === 1 ? '1 sub' : `${nSubs} subs`);
  setText(r.size, `Sz ${num(q.size)}/${num(q.onDelivery)}`);
  setClass(r.size, q.size > RED_SIZE ? 'q-size red' : 'q-size');
  setAttr(r.size, 'title', `${num(q.size)} waiting, ${num(q.onDelivery)} out for delivery`);
  present(r.del, r.actions, !b.auto && nSubs === 0);
  if (!ctx.compact) r.trend.set(ctx.recentBacklog(topic.id, q.id, 60), { min: 1 });
  renderRanges(r.ranges, q.data);
  reconcile(r.subs, subs, (s) => s.id, createSub, updateSub);
}

// ---- the row ----

function createRow() {
  const r = {
    pubs: h('div', { class: 'pubs' }),
    noPubs: h('div', { class: 'none' }, 'no publishers'),
    dot: h('span', { class: 'led' }),
    name: h('a', { class: 't-name' }),
    delBadge: h('span', { class: 'badge red' }, 'deleted'),
    browse: h('a', { class: 'btn small ghost', title: 'Browse its messages' }, 'Messages'),
    persistBtn: h('button', { type: 'button', class: 'btn small ghost' }),
    delBtn: h('button', { type: 'button', class: 'btn small ghost red', 'data-testid': 'topic-delete' }, 'Delete'),
    restoreBtn: h('button', { type: 'button', class: 'btn small', 'data-testid': 'topic-restore' }, 'Restore'),
    msgId: h('span', { class: 'v', 'data-testid': 'topic-message-id' }),
    msgs: h('span', { class: 'v' }),
    req: h('span', { class: 'v' }),
    persistLabel: h('span', { class: 'k' }, 'Persist q'),
    persist: h('span', { class: 'v' }),
    deleted: h('div', { class: 't-deleted' }),
    spark: new Spark(120, 26),
    pages: h('div', { class: 'pages' }),
    queuesTitle: h('div', { class: 'col-title' }),
    queues: h('div', { class: 'queues' }),
    noQueues: h('div', { class: 'none' }, 'no queues'),
  };
  const stat = (k, v) => h('div', { class: 'stat' }, typeof k === 'string' ? h('span', { class: 'k' }, k) : k, v);
  const el = h('article', { class: 'topic', 'data-testid': 'topic-row' },
    h('div', { class: 'c-pubs' }, h('div', { class: 'col-title' }, 'Publishers'), r.pubs, r.noPubs),
    h('div', { class: 'c-main' },
      h('div', { class: 't-head' }, r.dot, r.name, r.delBadge,
        (r.actions = h('span', { class: 't-actions' }, r.browse, r.persistBtn))),
      r.deleted,
      h('div', { class: 't-stats' }, stat('MsgId', r.msgId), stat('Msg/s', r.msgs), stat('Req/s', r.req), stat(r.persistLabel, r.persist)),
      h('div', { class: 't-spark' }, r.spark.el),
      r.pages),
    h('div', { class: 'c-queues' }, r.queuesTitle, r.queues, r.noQueues));
  r.persistBtn.addEventListener('click', () => actions.togglePersist(el.__item.t));
  r.delBtn.addEventListener('click', () => actions.deleteTopic(el.__item.t));
  r.restoreBtn.addEventListener('click', () => actions.restoreTopic(el.__item.t));
  el.__r = r;
  return el;
}

function updateRow(el, item) {
  const r = el.__r;
  const t = item.t;
  const needle = ctx.needle;
  el.__item = item;
  if (el.dataset.topic !== t.id) {
    el.dataset.topic = t.id;
    el.setAttribute('aria-label', 'topic ' + t.id);
  }
  const topicHit = !!needle && t.id.toLowerCase().includes(needle);
  toggle(el, 'dimmed', !!needle && !topicMatches(item, needle));
  toggle(el, 'problem', item.problem);
  toggle(el, 'target', ctx.targetTopic === t.id && !ctx.targetQueue);
  const deleted = t.deleted > 0;
  toggle(el, 'deleted', deleted);

  // publishers
  const pubs = t.publishers || [];
  reconcile(r.pubs, pubs, (p) => p.sessionId, createPub, updatePub);
  show(r.noPubs, pubs.length === 0);

  // centre
  const active = pubs.some((p) => p.active > 0) || t.messagesPerSec > 0;
  setClass(r.dot, item.problem ? 'led red' : t.persistSize >= 1000 ? 'led amber' : active ? 'led on' : 'led');
  setAttr(r.dot, 'title', item.problem ? 'a queue has more than 10,000 waiting messages' : active ? 'publishing' : 'idle');
  setHighlighted(r.name, t.id, topicHit ? needle : '');
  setAttr(r.name, 'href', topicHref(t.id, ctx.ns));
  setAttr(r.browse, 'href', messagesHref(t.id, null, ctx.ns));
  show(r.delBadge, deleted);
  present(r.delBtn, r.actions, !deleted && pubs.length === 0 && item.queues.length === 0);
  present(r.restoreBtn, r.actions, deleted);
  setText(r.persistBtn, t.persist === false ? 'Persist' : 'Stop persisting');
  show(r.persistBtn, !deleted && t.persist !== undefined);
  show(r.deleted, deleted);
  if (deleted) setText(r.deleted, t.deleted === 1 ? 'Deleted: wiped at the next clean-up' : `Deleted until ${moment(t.deleted)}`);

  setText(r.msgId, num(t.messageId));
  setText(r.msgs, t.messagesPerSec === undefined ? '–' : compact(t.messagesPerSec));
  setText(r.req, t.packetPerSec === undefined ? '–' : compact(t.packetPerSec));
  if (t.persist === false) {
    setText(r.persistLabel, 'Persist');
    setText(r.persist, 'NotPersisted');
    setClass(r.persist, 'v off');
  } else {
    setText(r.persistLabel, 'Persist q');
    setText(r.persist, num(t.persistSize));
    setClass(r.persist, t.persistSize >= 5000 ? 'v red' : t.persistSize >= 1000 ? 'v amber' : 'v');
  }
  r.spark.set(t.publishHistory || [], { min: 1 });
  setAttr(r.spark.el, 'aria-label', 'messages per second');
  reconcile(r.pages, t.pages || [], (p) => p.id, createPage, updatePage);

  // queues
  const qs = item.queues;
  setText(r.queuesTitle, qs.length ? `Queues (${qs.length}) · ${num(item.waiting)} waiting` : 'Queues');
  show(r.noQueues, qs.length === 0);
  toggle(el, 'no-queues', qs.length === 0);
  reconcile(r.queues, qs.map((q) => ({ topic: t, q, subs: item.subsByQueue.get(q.id) || [], needle, topicHit })),
    (x) => x.q.id, createQueue, updateQueue);
}

// a row's height before it was ever measured
function estimate(item) {
  const t = item.t;
  const pubs = (t.publishers || []).length;
  const colPubs = 28 + Math.max(1, pubs) * 36;
  const colMain = 112 + (ctx.compact ? 0 : (t.pages || []).length * 17) + (t.deleted > 0 ? 20 : 0);
  let colQ = 28;
  for (const q of item.queues)
    colQ += ctx.compact ? 27 : 36 + ((q.data || []).length ? 20 : 0) + (item.subsByQueue.get(q.id) || []).length * 19;
  return Math.max(colPubs, colMain, colQ) + 2;
}

export class TopicsView {
  constructor(section) {
    this.section = section;
    this.head = h('div', { class: 'view-head' }, h('h1', null, 'Topics'), (this.info = h('span', { class: 'dim' })));
    this.emptyEl = h('div', { class: 'empty', 'data-testid': 'topics-empty' }, 'Waiting for the broker\'s status…');
    this.list = new VList(section, { key: (it) => it.id, create: createRow, update: updateRow, estimate, gap: 8 });
    section.append(this.head, this.emptyEl, this.list.el);
    this.items = [];
  }

  setActive(on) {
    this.list.setActive(on);
  }

  render(items, { total, matches, needle }) {
    this.items = items;
    setText(this.info, needle ? `${num(matches)} of ${num(total)} match “${needle}”` : `${num(total)} in this namespace`);
    show(this.emptyEl, items.length === 0);
    if (items.length === 0) {
      setText(this.emptyEl, total === 0 ? 'No topics yet. Create one with “+ Topic”, or publish to one.' : 'Nothing matches the filter.');
    }
    this.list.setItems(items);
  }

  scrollTo(topic) {
    return this.list.scrollTo(topic);
  }

  // before the first status: why nothing is shown yet
  waiting(error) {
    if (this.items.length) return;
    setText(this.emptyEl, error ? `Cannot read the broker's status: ${error}. Trying again every second…` : 'Waiting for the broker\'s status…');
  }

  // row heights change with the density
  relayout() {
    this.list.heights.clear();
    this.list.render();
  }
}
