// The pages view: for every topic with messages in memory, its pages (100,000 ids each) as bars
// with a tick per cached sub-page (1,000 ids), windowed like the topic list.
import { h, setText, reconcile, setHighlighted, toggle, setAttr } from './dom.js';
import { num, bytes } from './format.js';
import { VList } from './vlist.js';
import { topicHref } from './router.js';
import { createPage, updatePage, ctx, topicMatches } from './topics.js';

function createRow() {
  const r = { name: h('a', { class: 't-name' }), meta: h('div', { class: 'pmeta' }), pages: h('div', { class: 'pages' }) };
  const el = h('div', { class: 'prow', 'data-testid': 'page-row' }, h('div', null, r.name, r.meta), r.pages);
  el.__r = r;
  return el;
}

function updateRow(el, item) {
  const r = el.__r;
  const pages = item.t.pages || [];
  let amount = 0;
  let pending = 0;
  for (const p of pages) {
    amount += p.amount || 0;
    pending += p.persist_size || 0;
  }
  setHighlighted(r.name, item.id, ctx.needle && item.id.toLowerCase().includes(ctx.needle) ? ctx.needle : '');
  setAttr(r.name, 'href', topicHref(item.id, ctx.ns));
  toggle(el, 'dimmed', !!ctx.needle && !topicMatches(item, ctx.needle));
  setText(r.meta, `${pages.length} page${pages.length === 1 ? '' : 's'} · ${num(amount)} msgs · ${bytes(item.cached)}` +
    (pending ? ` · ${num(pending)} to save` : ''));
  reconcile(r.pages, pages, (p) => p.id, createPage, updatePage);
}

export class PagesView {
  constructor(section) {
    this.info = h('span', { class: 'dim' });
    this.emptyEl = h('div', { class: 'empty' }, 'No topic has messages in memory.');
    this.list = new VList(section, {
      key: (it) => it.id,
      create: createRow,
      update: updateRow,
      estimate: (it) => Math.max(44, 16 + (it.t.pages || []).length * 17),
      gap: 6,
    });
    section.append(h('div', { class: 'view-head' }, h('h1', null, 'Pages in memory'), this.info), this.emptyEl, this.list.el);
  }

  setActive(on) {
    this.list.setActive(on);
  }

  render(model, items) {
    const withPages = items.filter((it) => (it.t.pages || []).length > 0);
    setText(this.info, `${num(model.totals.pages)} pages · ${bytes(model.totals.cached)} of message content cached · a tick is a sub-page of 1,000 ids`);
    this.emptyEl.hidden = withPages.length > 0;
    this.list.setItems(withPages);
  }
}
