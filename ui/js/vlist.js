// A windowed list: of thousands of items only those in or near the viewport have DOM elements
// (a spacer above and below stands for the rest). Rows are kept by key and updated in place.
//
// It never asks the browser for a layout in the middle of an update: the scroll position comes
// from scroll events, the viewport's height and the rows' heights from ResizeObservers (called
// after the browser's own layout), and an estimate stands in for a row never shown. When rows
// above the one at the top of the screen change height, the scroll position moves with them, so
// what the operator looks at stays put.

import { h, reconcile } from './dom.js';

const OVERSCAN_PX = 600;

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
    this.heights = new Map(); // key → measured height (gap included)
    this.first = 0; // window shown: items[first..last]
    this.last = -1;
    this.scrollY = 0;
    this.viewH = 800;
    this.listTop = 0;
    this.raf = 0;
    this.active = true;
    scroller.addEventListener('scroll', () => {
      this.scrollY = scroller.scrollTop;
      this.schedule();
    }, { passive: true });
    this.rowObserver = new ResizeObserver((entries) => this.rowsResized(entries));
    let lastWidth = 0;
    new ResizeObserver((entries) => {
      const box = entries[entries.length - 1].contentRect;
      if (box.width === 0) return; // hidden
      this.viewH = box.height || this.viewH;
      if (box.width !== lastWidth) {
        lastWidth = box.width;
        this.heights.clear(); // rows wrap differently
      }
      this.listTop = this.el.offsetTop;
      this.schedule();
    }).observe(scroller);
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
    const m = this.heights.get(this.key(item));
    return m !== undefined ? m : this.estimate(item) + this.gap;
  }

  render() {
    if (!this.active) return;
    const items = this.items;
    const n = items.length;
    const hs = new Float64Array(n);
    for (let i = 0; i < n; i++) hs[i] = this.heightOf(items[i]);
    const base = this.scrollY - this.listTop;
    const viewTop = base - OVERSCAN_PX;
    const viewBottom = base + this.viewH + OVERSCAN_PX;
    let acc = 0;
    let first = n;
    let last = n - 1;
    for (let i = 0; i < n; i++) {
      if (first === n && acc + hs[i] > viewTop) first = i;
      if (acc >= viewBottom) {
        last = i - 1;
        break;
      }
      acc += hs[i];
    }
    if (first > last) {
      first = 0;
      last = -1;
    }
    this.first = first;
    this.last = last;
    const before = this.body.__keyed ? new Set(this.body.__keyed.values()) : new Set();
    reconcile(this.body, first <= last ? items.slice(first, last + 1) : [], this.key, this.create, this.update);
    // new rows: watch their sizes (removed ones are dropped by the observer itself)
    for (const el of this.body.__keyed.values()) if (!before.has(el)) this.rowObserver.observe(el);
    this.layout(hs);
  }

  setActive(on) {
    this.active = on;
    if (on) {
      // reading scrollTop lays the page out; an empty list (the page's start, before the first
      // status) has nothing scrolled, and its first render lays the page out once, with rows
      if (this.items.length) this.scrollY = this.scroller.scrollTop;
      this.schedule();
    }
  }

  // the spacers for the window first..last, from the heights @hs (or the current ones)
  layout(hs) {
    const items = this.items;
    let beforePx = 0;
    let afterPx = 0;
    for (let i = 0; i < items.length; i++) {
      const ht = hs ? hs[i] : this.heightOf(items[i]);
      if (i < this.first) beforePx += ht;
      else if (i > this.last) afterPx += ht;
    }
    const top = beforePx + 'px';
    const bottom = afterPx + 'px';
    if (this.top.style.height !== top) this.top.style.height = top;
    if (this.bottom.style.height !== bottom) this.bottom.style.height = bottom;
  }

  // sizes known after the browser laid the rows out
  rowsResized(entries) {
    const items = this.items;
    // the item at the top of the screen before the change
    const base = this.scrollY - this.listTop;
    let acc = 0;
    let anchor = items.length;
    for (let i = 0; i < items.length; i++) {
      const ht = this.heightOf(items[i]);
      // the first row showing more than the gap below it
      if (acc + ht > base + this.gap) {
        anchor = i;
        break;
      }
      acc += ht;
    }
    const anchorKey = anchor < items.length ? this.key(items[anchor]) : null;
    const changed = new Map();
    for (const e of entries) {
      const k = e.target.__key;
      if (k === undefined || !e.target.isConnected) continue;
      const box = e.borderBoxSize && e.borderBoxSize[0];
      const size = box ? box.blockSize : e.contentRect.height;
      // a hidden view: nothing to learn
      if (!this.active || size === 0) continue;
      const ht = size + this.gap;
      const prev = this.heights.has(k) ? this.heights.get(k) : null;
      if (prev !== ht) changed.set(k, [prev, ht]);
      this.heights.set(k, ht);
    }
    if (!changed.size) return;
    // rows above the anchor that changed height move it: move the scroll position with them
    let shift = 0;
    if (anchorKey !== null && base > 0) {
      for (let i = 0; i < anchor; i++) {
        const c = changed.get(this.key(items[i]));
        if (c) shift += c[1] - (c[0] !== null ? c[0] : this.estimate(items[i]) + this.gap);
      }
    }
    this.layout(null);
    if (shift !== 0) {
      this.scrollY += shift;
      this.scroller.scrollTop = this.scrollY;
    }
    this.schedule();
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
    this.listTop = this.el.offsetTop;
    this.scrollY = Math.max(0, this.listTop + acc - 8);
    // the spacers first, so that the page is tall enough to scroll there
    this.render();
    this.scroller.scrollTop = this.scrollY;
    return true;
  }
}
