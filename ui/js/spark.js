// Sparklines as SVG paths: one <svg> per sparkline whose path is rewritten only when the values
// changed. Values are right-aligned (the newest on the right) in a box `capacity` samples wide.
import { svg } from './dom.js';

export class Spark {
  constructor(capacity, height = 24, cls = '') {
    this.capacity = capacity;
    this.height = height;
    this.el = svg('svg', {
      class: 'spark ' + cls,
      viewBox: `0 0 ${capacity - 1} ${height}`,
      preserveAspectRatio: 'none',
      'aria-hidden': 'true',
    });
    this.area = svg('path', { class: 'area' });
    this.line = svg('path', { class: 'line' });
    this.fail = svg('path', { class: 'fail' });
    this.el.append(this.area, this.line, this.fail);
    this.sig = '';
    this.cls = cls;
  }

  setClass(cls) {
    if (cls !== this.cls) {
      this.cls = cls;
      this.el.setAttribute('class', 'spark ' + cls);
    }
  }

  // @values: numbers (negative ones are drawn as failures below the axis when @failures).
  set(values, { min = 1, failures = false } = {}) {
    const n = Math.min(values ? values.length : 0, this.capacity);
    const start = values ? values.length - n : 0;
    let max = min;
    for (let i = 0; i < n; i++) {
      const v = values[start + i];
      if (v > max) max = v;
    }
    const H = this.height;
    const x0 = this.capacity - n;
    let d = '';
    let f = '';
    for (let i = 0; i < n; i++) {
      let v = values[start + i];
      if (failures && v < 0) {
        f += `M${x0 + i} ${H}v${-H}`;
        v = 0;
      }
      const y = H - (v > 0 ? Math.max(0.8, (v / max) * (H - 1)) : 0);
      d += (i === 0 ? 'M' : 'L') + (x0 + i) + ' ' + (Math.round(y * 10) / 10);
    }
    const sig = d + '|' + f;
    if (sig === this.sig) return;
    this.sig = sig;
    this.line.setAttribute('d', d);
    this.area.setAttribute('d', n > 1 ? `${d}L${x0 + n - 1} ${H}L${x0} ${H}Z` : '');
    this.fail.setAttribute('d', f);
  }
}

// The latency colour of a subscriber (node.md §8.1): by the largest latency in its history.
export function latencyClass(history) {
  let max = 0;
  if (history) for (const v of history) if (v > max) max = v;
  if (max < 1000) return 'green';
  if (max < 10000) return '';
  if (max < 50000) return 'amber';
  return 'red';
}

// A chart with time along x, for the drawer: series of {values, cls}, all sharing @times (ms).
export function chart(el, times, series, { width = 360, height = 140 } = {}) {
  el.textContent = '';
  el.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const padL = 44;
  const padB = 16;
  const padT = 8;
  const w = width - padL - 6;
  const ht = height - padB - padT;
  const n = times.length;
  let max = 4;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  max = 4 * niceStep(max / 4);
  for (let i = 0; i <= 4; i++) {
    const y = padT + (ht * i) / 4;
    el.append(svg('line', { class: 'grid', x1: padL, x2: padL + w, y1: y, y2: y }));
    const t = svg('text', { class: 'axis', x: padL - 4, y: y + 3, 'text-anchor': 'end' });
    t.textContent = shortNum((max * (4 - i)) / 4);
    el.append(t);
  }
  if (n < 2) return;
  const t0 = times[0];
  const span = Math.max(1, times[n - 1] - t0);
  const xs = times.map((t) => padL + ((t - t0) / span) * w);
  for (const s of series) {
    let d = '';
    s.values.forEach((v, i) => {
      const y = padT + ht - (Math.max(0, v) / max) * ht;
      d += (i === 0 ? 'M' : 'L') + xs[i].toFixed(1) + ' ' + y.toFixed(1);
    });
    if (s.area) el.append(svg('path', { class: 'area', d: `${d}L${xs[n - 1]} ${padT + ht}L${xs[0]} ${padT + ht}Z` }));
    el.append(svg('path', { class: s.cls, d }));
  }
  const mins = span / 60000;
  const label = (x, text, anchor) => {
    const t = svg('text', { class: 'axis', x, y: height - 3, 'text-anchor': anchor });
    t.textContent = text;
    el.append(t);
  };
  label(padL, mins >= 1 ? `−${mins.toFixed(mins < 10 ? 1 : 0)} min` : `−${Math.round(span / 1000)} s`, 'start');
  label(padL + w, 'now', 'end');
}

// a round step for an axis: 1, 2, 2.5 or 5 times a power of ten
function niceStep(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortNum(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + 'k';
  return String(Math.round(v * 10) / 10);
}
