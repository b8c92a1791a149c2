// A windowed list: of thousands of items only those in or near the viewport have DOM elements
// (a spacer above and below stands for the rest). Rows are kept by key and updated in place;
// their heights are measured after rendering and remembered, an estimate stands in before.

import { h, reconcile } from './dom.js';

const OVERSCAN_PX = 700;

export class VList {
  constructor(scroller, { key, create, update, estimate, gap = 0 }) {
    this.scroller = scroller;
    this.key = key;
    this.create = create;
    this.update = update;
    this.estimate = estimate;
    this.gap = gap;
    this.el = h('div', { class: 'vlist' });
    this.top = h('div', { class: 'vspacer' });
    this.body = h('div');
    this.bottom = h('div', { class: 'vspacer' });
    this.el.append(this.top, this.body, this.bottom);
    this.items = [];
    this.heights = new Map();
    this.raf = 0;
    this.active = true;
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    if (window.ResizeObserver) {
      let lastWidth = 0;
      new ResizeObserver(() => {
        const w = this.scroller.clientWidth;
        if (w !== lastWidth) {
          lastWidth = w;
          this.heights.clear(); // rows wrap differently
        }
        this.schedule();
      }).observe(scroller);
    }
  }

  setItems(items) {
    this.items = items;
    this.render();
  }

  schedule() {
    if (!this.raf && this.active) {
      this.raf = requestAnimationFrame(() => {
        this.raf = 0;
        this.render();
      });
    }
  }

  heightOf(item) {
    const k = this.key(item);
    const m = this.heights.get(k);
    return m !== undefined ? m : this.estimate(item) + this.gap;
  }

  // the list's top inside the scroller's content
  listTop() {
    return this.el.offsetTop;
  }

  render() {
    if (!this.active) return;
    const items = this.items;
    const viewTop = this.scroller.scrollTop - this.listTop() - OVERSCAN_PX;
    const viewBottom = this.scroller.scrollTop - this.listTop() + this.scroller.clientHeight + OVERSCAN_PX;
    let acc = 0;
    let first = items.length;
    let last = items.length - 1;
    let topPad = 0;
    for (let i = 0; i < items.length; i++) {
      const ht = this.heightOf(items[i]);
      if (first === items.length && acc + ht > viewTop) {
        first = i;
        topPad = acc;
      }
      if (acc >= viewBottom) {
        last = i - 1;
        break;
      }
      acc += ht;
    }
    const visible = first <= last ? items.slice(first, last + 1) : [];
    reconcile(this.body, visible, this.key, this.create, this.update);
    // measure what was rendered
    let changed = false;
    for (const el of this.body.children) {
      const k = el.__key;
      const ht = el.offsetHeight + this.gap;
      if (this.heights.get(k) !== ht) {
        this.heights.set(k, ht);
        changed = true;
      }
    }
    let total = 0;
    let before = 0;
    for (let i = 0; i < items.length; i++) {
      const ht = this.heightOf(items[i]);
      if (i < first) before += ht;
      total += ht;
    }
    let inside = 0;
    for (let i = first; i <= last && i < items.length; i++) inside += this.heightOf(items[i]);
    this.top.style.height = (first < items.length ? before : 0) + 'px';
    this.bottom.style.height = Math.max(0, total - before - inside) + 'px';
    void topPad;
    if (changed && !this.remeasured) {
      // estimates were off: the window may now cover other items
      this.remeasured = true;
      this.render();
      this.remeasured = false;
    }
  }

  // scroll so that the item with @key is near the top; FALSE when it is not in the list
  scrollTo(key) {
    let acc = 0;
    for (const item of this.items) {
      if (this.key(item) === key) {
        this.scroller.scrollTop = this.listTop() + acc - 8;
        this.render();
        return true;
      }
      acc += this.heightOf(item);
    }
    return false;
  }
}
