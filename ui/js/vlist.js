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
    const scrollTop = this.scroller.scrollTop;
    // the first row on screen and where it is: kept in place when rows above it change height
    let anchor = null;
    let anchorTop = 0;
    for (const el of this.body.children) {
      if (el.offsetTop + el.offsetHeight > scrollTop) {
        anchor = el;
        anchorTop = el.offsetTop;
        break;
      }
    }
    const base = scrollTop - this.listTop();
    const viewTop = base - OVERSCAN_PX;
    const viewBottom = base + this.scroller.clientHeight + OVERSCAN_PX;
    let acc = 0;
    let first = items.length;
    let last = items.length - 1;
    for (let i = 0; i < items.length; i++) {
      const ht = this.heightOf(items[i]);
      if (first === items.length && acc + ht > viewTop) first = i;
      if (acc >= viewBottom) {
        last = i - 1;
        break;
      }
      acc += ht;
    }
    const visible = first <= last ? items.slice(first, last + 1) : [];
    reconcile(this.body, visible, this.key, this.create, this.update);
    this.layout(first, last);
    // measure what was rendered
    let changed = false;
    for (const el of this.body.children) {
      const ht = el.offsetHeight + this.gap;
      if (this.heights.get(el.__key) !== ht) {
        this.heights.set(el.__key, ht);
        changed = true;
      }
    }
    if (changed) this.layout(first, last);
    if (anchor && anchor.isConnected) {
      const moved = anchor.offsetTop - anchorTop;
      if (moved !== 0) this.scroller.scrollTop = scrollTop + moved;
    }
    if (changed && !this.remeasured) {
      // estimates were off: the window may now cover other items
      this.remeasured = true;
      this.render();
      this.remeasured = false;
    }
  }

  // the spacers' heights for a window of items first..last
  layout(first, last) {
    const items = this.items;
    let before = 0;
    let inside = 0;
    let after = 0;
    for (let i = 0; i < items.length; i++) {
      const ht = this.heightOf(items[i]);
      if (i < first) before += ht;
      else if (i <= last) inside += ht;
      else after += ht;
    }
    const top = before + 'px';
    const bottom = after + 'px';
    if (this.top.style.height !== top) this.top.style.height = top;
    if (this.bottom.style.height !== bottom) this.bottom.style.height = bottom;
    void inside;
  }

  // scroll so that the item with @key is near the top; FALSE when it is not in the list
  scrollTo(key) {
    let acc = 0;
    let found = false;
    for (const item of this.items) {
      if (this.key(item) === key) {
        found = true;
        break;
      }
      acc += this.heightOf(item);
    }
    if (!found) return false;
    this.scroller.scrollTop = this.listTop() + acc - 8;
    // the rows above were estimated: settle on where the row really is
    for (let i = 0; i < 3; i++) {
      this.render();
      const el = this.body.__keyed && this.body.__keyed.get(key);
      if (!el) break;
      const want = el.offsetTop - 8;
      if (Math.abs(this.scroller.scrollTop - want) < 2) break;
      this.scroller.scrollTop = want;
    }
    return true;
  }
}
