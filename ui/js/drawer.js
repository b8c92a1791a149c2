// The details panel beside the topic list: a topic (#/topics/NAME) or a queue
// (#/topics/NAME/queues/Q) with its charts and actions. Rebuilt when the route changes, updated
// in place with each status.
import { h, svg, setText, setClass, show, reconcile } from './dom.js';
import { num, bytes, moment } from './format.js';
import { chart } from './spark.js';
import { renderRanges, queueTypeBadges, createSub, updateSub, createPage, updatePage } from './topics.js';
import { queueHref, messagesHref, topicHref, viewHref } from './router.js';
import * as actions from './actions.js';

export class Drawer {
  constructor(el, history) {
    this.el = el;
    this.history = history;
    this.topic = null;
    this.queue = null;
    this.ns = 'default';
    this.parts = null;
  }

  isOpen() {
    return !this.el.hidden;
  }

  open(topic, queue, ns) {
    if (this.topic === topic && this.queue === queue && this.ns === ns && !this.el.hidden) return;
    this.topic = topic;
    this.queue = queue;
    this.ns = ns;
    this.el.hidden = false;
    this.el.textContent = '';
    this.parts = queue !== null ? this.buildQueue() : this.buildTopic();
  }

  close() {
    this.el.hidden = true;
    this.el.textContent = '';
    this.topic = this.queue = null;
    this.parts = null;
  }

  head(title, sub) {
    const closeBtn = h('a', { class: 'btn small ghost', href: viewHref('topics', this.ns), 'aria-label': 'Close details', title: 'Close (Esc)' }, '✕');
    this.el.append(h('div', { class: 'd-head' }, h('h2', null, title), closeBtn), h('div', { class: 'd-sub' }, ...sub));
  }

  buildTopic() {
    const p = {};
    this.head(this.topic, ['Topic · ', h('a', { href: messagesHref(this.topic, null, this.ns) }, 'browse its messages')]);
    p.missing = h('div', { class: 'empty' }, 'This topic is not (or no longer) in the status.');
    p.kv = h('dl', { class: 'kv' });
    p.rows = {};
    for (const [k, label] of [['messageId', 'Next message id'], ['msgs', 'Messages/s'], ['req', 'Publish calls/s'],
      ['mean', 'Mean message size'], ['persist', 'Persist'], ['persistSize', 'Waiting to be saved'], ['cached', 'In memory'],
      ['waiting', 'Waiting in its queues'], ['deleted', 'Deleted']]) {
      p.rows[k] = h('dd');
      p.kv.append(h('dt', null, label), p.rows[k]);
    }
    p.chart = svg('svg', { class: 'chart', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'messages per second' });
    p.pages = h('div', { class: 'pages' });
    p.queues = h('ul', { class: 'd-queues' });
    p.actions = h('div', { class: 'd-actions' });
    p.persistBtn = h('button', { type: 'button', class: 'btn' });
    p.delBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'drawer-topic-delete' }, 'Delete topic…');
    p.restoreBtn = h('button', { type: 'button', class: 'btn' }, 'Restore');
    p.actions.append(p.persistBtn, p.delBtn, p.restoreBtn);
    p.persistBtn.addEventListener('click', () => p.item && actions.togglePersist(p.item.t));
    p.delBtn.addEventListener('click', () => p.item && actions.deleteTopic(p.item.t));
    p.restoreBtn.addEventListener('click', () => p.item && actions.restoreTopic(p.item.t));
    p.body = h('div', null,
      p.kv,
      h('h3', null, 'Messages per second'), p.chart,
      h('div', { class: 'note' }, 'The broker\'s own history: up to the last 120 seconds.'),
      h('h3', null, 'Queues'), p.queues,
      h('h3', null, 'Pages in memory'), p.pages,
      h('h3', null, 'Actions'), p.actions);
    this.el.append(p.missing, p.body);
    p.update = (model) => {
      const item = model.byId.get(this.topic);
      p.item = item;
      show(p.missing, !item);
      show(p.body, !!item);
      if (!item) return;
      const t = item.t;
      setText(p.rows.messageId, num(t.messageId));
      setText(p.rows.msgs, t.messagesPerSec === undefined ? '–' : num(t.messagesPerSec));
      setText(p.rows.req, t.packetPerSec === undefined ? '–' : num(t.packetPerSec));
      setText(p.rows.mean, t.meanMessageSize === undefined ? '–' : bytes(t.meanMessageSize));
      setText(p.rows.persist, t.persist === false ? 'off (NotPersisted)' : 'on');
      setText(p.rows.persistSize, num(t.persistSize));
      setText(p.rows.cached, `${(t.pages || []).length} pages, ${bytes(item.cached)}`);
      setText(p.rows.waiting, num(item.waiting));
      setText(p.rows.deleted, t.deleted > 0 ? (t.deleted === 1 ? 'yes, wiped at the next clean-up' : 'until ' + moment(t.deleted)) : 'no');
      const hist = t.publishHistory || [];
      const now = model.at;
      const sig = hist.join(',');
      if (p.chartSig !== sig) {
        p.chartSig = sig;
        chart(p.chart, hist.map((_, i) => now - (hist.length - 1 - i) * 1000), [{ values: hist, cls: 'line', area: true }]);
      }
      reconcile(p.queues, item.queues, (q) => q.id, (q) => {
        const li = h('li');
        li.__a = h('a', { href: queueHref(this.topic, q.id, this.ns) });
        li.__s = h('span', { class: 'dim' });
        li.append(li.__a, ' ', li.__s);
        return li;
      }, (li, q) => {
        setText(li.__a, q.id);
        setText(li.__s, `${num(q.size)} waiting, ${num(q.onDelivery)} in flight`);
      });
      if (!item.queues.length) setText(p.queues, 'none');
      reconcile(p.pages, t.pages || [], (pg) => pg.id, createPage, updatePage);
      setText(p.persistBtn, t.persist === false ? 'Persist' : 'Stop persisting');
      show(p.persistBtn, !(t.deleted > 0));
      show(p.delBtn, !(t.deleted > 0) && (t.publishers || []).length === 0 && item.queues.length === 0);
      show(p.restoreBtn, t.deleted > 0);
    };
    return p;
  }

  buildQueue() {
    const p = {};
    this.head(this.queue, ['Queue of ', h('a', { href: topicHref(this.topic, this.ns) }, this.topic)]);
    p.missing = h('div', { class: 'empty' }, 'This queue is not (or no longer) in the status.');
    p.kv = h('dl', { class: 'kv' });
    p.rows = {};
    for (const [k, label] of [['type', 'Type'], ['size', 'Waiting'], ['onDelivery', 'Out for delivery'], ['subs', 'Subscribers'],
      ['first', 'Next to deliver'], ['topicNext', 'Topic\'s next id']]) {
      p.rows[k] = h('dd');
      p.kv.append(h('dt', null, label), p.rows[k]);
    }
    p.chart = svg('svg', { class: 'chart', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'backlog over time' });
    p.note = h('div', { class: 'note' });
    p.ranges = h('div', { class: 'ranges' });
    p.subs = h('div', { class: 'subs' });
    p.noSubs = h('div', { class: 'none' }, 'no subscribers');
    p.setId = h('button', { type: 'button', class: 'btn' }, 'Set message id…');
    p.del = h('button', { type: 'button', class: 'btn', 'data-testid': 'drawer-queue-delete' }, 'Delete queue…');
    p.delNote = h('div', { class: 'note' });
    p.setId.addEventListener('click', () => p.item && actions.setMessageId(p.item.t, p.q));
    p.del.addEventListener('click', () => p.item && actions.deleteQueue(p.item.t, p.q));
    p.body = h('div', null, p.kv,
      h('h3', null, 'Backlog'), p.chart,
      h('div', { class: 'legend' }, h('span', null, h('i'), 'waiting'), h('span', null, h('i', { class: 'l2' }), 'out for delivery')),
      p.note,
      h('h3', null, 'Waiting ranges'), p.ranges,
      h('h3', null, 'Subscribers'), p.subs, p.noSubs,
      h('h3', null, 'Actions'), h('div', { class: 'd-actions' }, p.setId, p.del), p.delNote);
    this.el.append(p.missing, p.body);
    p.update = (model) => {
      const item = model.byId.get(this.topic);
      const q = item && item.queues.find((x) => x.id === this.queue);
      p.item = item;
      p.q = q;
      show(p.missing, !q);
      show(p.body, !!q);
      if (!q) return;
      const b = queueTypeBadges(q.queueType);
      const subs = item.subsByQueue.get(q.id) || [];
      const nSubs = subs.length || q.subscribers || 0;
      setText(p.rows.type, `${b.life[0]}, ${b.single ? 'single subscriber' : 'many subscribers'} (type ${q.queueType})`);
      setText(p.rows.size, num(q.size));
      setClass(p.rows.size, q.size > 1000 ? 'red' : '');
      setText(p.rows.onDelivery, num(q.onDelivery));
      setText(p.rows.subs, num(nSubs));
      const first = (q.data || []).find((r) => r.fromId <= r.toId);
      setText(p.rows.first, first ? num(first.fromId) : 'nothing waiting');
      setText(p.rows.topicNext, num(item.t.messageId));
      const bl = this.history.backlog(this.topic, this.queue);
      chart(p.chart, bl.times, [
        { values: bl.size, cls: 'line', area: true },
        { values: bl.onDelivery, cls: 'line2' },
      ]);
      const mins = bl.times.length > 1 ? (bl.times[bl.times.length - 1] - bl.times[0]) / 60000 : 0;
      setText(p.note, `Kept in this browser from the updates since the page was opened (${mins < 1 ? Math.round(mins * 60) + ' s' : mins.toFixed(1) + ' min'} so far, up to 10 min); a reload starts it again.`);
      renderRanges(p.ranges, q.data, 200);
      reconcile(p.subs, subs, (s) => s.id, createSub, updateSub);
      show(p.noSubs, subs.length === 0);
      const canDelete = !b.auto && nSubs === 0;
      p.del.disabled = !canDelete;
      setText(p.delNote, canDelete ? '' : b.auto ? 'An auto-delete queue goes away by itself once it has no subscribers.' : 'Only a queue without subscribers can be deleted.');
    };
    return p;
  }

  update(model) {
    if (this.parts) this.parts.update(model);
  }
}
