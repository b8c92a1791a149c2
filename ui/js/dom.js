// Small DOM helpers: element creation and updates that touch the DOM only when a value changed,
// so that a one-second update of a thousand rows costs little more than the values that moved.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

export function setText(el, text) {
  const s = String(text);
  if (el.__text !== s) {
    el.__text = s;
    el.textContent = s;
  }
}

export function setClass(el, cls) {
  if (el.__cls !== cls) {
    el.__cls = cls;
    el.className = cls;
  }
}

export function toggle(el, cls, on) {
  if (el.classList.contains(cls) !== !!on) el.classList.toggle(cls, !!on);
}

export function show(el, on) {
  if (el.hidden === !!on) el.hidden = !on;
}

export function setAttr(el, name, value) {
  const v = value === null || value === undefined ? null : String(value);
  if (el.getAttribute(name) !== v) {
    if (v === null) el.removeAttribute(name);
    else el.setAttribute(name, v);
  }
}

// Keyed children: make @parent hold one element per item, in order, created by create(item) on
// first sight and updated by update(el, item) each time. Elements of keys that went away are
// removed; elements already in place are not moved.
export function reconcile(parent, items, key, create, update) {
  let map = parent.__keyed;
  if (!map) {
    map = new Map();
    parent.__keyed = map;
  }
  const seen = new Set();
  let prev = null;
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let el = map.get(k);
    if (!el) {
      el = create(item);
      el.__key = k;
      map.set(k, el);
    }
    update(el, item);
    const want = prev ? prev.nextSibling : parent.firstChild;
    if (want !== el) parent.insertBefore(el, want);
    prev = el;
  }
  if (seen.size !== map.size) {
    for (const [k, el] of map) {
      if (!seen.has(k)) {
        el.remove();
        map.delete(k);
      }
    }
  }
}

// Text with the case-insensitive matches of @needle wrapped in <mark>, into @el (only when the
// text or the needle changed).
export function setHighlighted(el, text, needle) {
  const sig = text + '\u0000' + needle;
  if (el.__hl === sig) return;
  el.__hl = sig;
  el.__text = undefined;
  if (!needle) {
    el.textContent = text;
    return;
  }
  el.textContent = '';
  const lower = text.toLowerCase();
  let at = 0;
  for (;;) {
    const i = lower.indexOf(needle, at);
    if (i < 0) break;
    if (i > at) el.append(text.slice(at, i));
    el.append(h('mark', null, text.slice(i, i + needle.length)));
    at = i + needle.length;
  }
  if (at < text.length) el.append(text.slice(at));
}

// Put @el into @parent (at the end) or take it out: for controls that only exist when they
// apply, so that a selector finds no hidden ones.
export function present(el, parent, on) {
  if (on && el.parentNode !== parent) parent.append(el);
  else if (!on && el.parentNode) el.remove();
}
