// The web UI's entry point: wires the live feed, the model, the views, the hash routes and the
// controls of the top bar, the KPI strip, the sidebar and the status bar.
import { h, setText, setClass, show, setAttr } from './dom.js';
import { num, compact, bytes, rate, clock, plural } from './format.js';
import { Live } from './live.js';
import { buildModel, History } from './model.js';
import { Spark } from './spark.js';
import { TopicsView, ctx, topicMatches } from './topics.js';
import { SessionsView } from './sessions.js';
import { PagesView } from './pages.js';
import { MessagesView } from './messages.js';
import { Drawer } from './drawer.js';
import { parseHash, queueHref, viewHref, go } from './router.js';
import { setNamespace } from './api.js';
import { anyDialogOpen } from './dialogs.js';
import * as actions from './actions.js';

// when the modules have been loaded and compiled and this one starts (bench/ui-render-bench.mjs)
performance.mark('msb-main-start');
const $ = (id) => document.getElementById(id);
const NS_KEY = 'msb_namespace';
const THEME_KEY = 'msb_theme';

const state = {
  ns: localStorage.getItem(NS_KEY) || 'default',
  route: parseHash(location.hash),
  model: null,
  needle: '',
  sort: localStorage.getItem('msb_sort') || 'name',
  onlyMatches: false,
  namespaces: [],
  updates: 0,
  firstRenderDone: false,
  dirty: { topics: true, sessions: true, pages: true, messages: true },
};

// performance: how long the first render and each update took (docs/ui.md)
// (firstRenderMs: the first screen, from the first topics (/api/Status/First) or the whole status;
// fullRenderMs: the first rendering of a whole status)
const perf = { firstRenderMs: null, fullRenderMs: null, firstPartial: false, lastUpdateMs: null, updates: [] };
window.msbPerf = perf;

const live = new Live();
const history_ = new History();
const views = {
  topics: new TopicsView($('view-topics')),
  sessions: new SessionsView($('view-sessions')),
  pages: new PagesView($('view-pages')),
  messages: new MessagesView($('view-messages')),
};
const drawer = new Drawer($('drawer'), history_);
ctx.recentBacklog = (topic, queue, k) => history_.recentBacklog(topic, queue, k);

// ---- theme ----
function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
$('theme').value = localStorage.getItem(THEME_KEY) || 'auto';
applyTheme($('theme').value);
$('theme').addEventListener('change', () => {
  localStorage.setItem(THEME_KEY, $('theme').value);
  applyTheme($('theme').value);
});

// ---- KPI strip ----
const kpis = {};
for (const [key, id, cls] of [['msgs', 'kpi-msgs', ''], ['req', 'kpi-req', ''], ['persist', 'kpi-persist', 'amber'],
  ['waiting', 'kpi-waiting', ''], ['inRate', 'kpi-in', 'green'], ['outRate', 'kpi-out', '']]) {
  const spark = new Spark(60, 28, cls);
  $(id + '-spark').append(spark.el);
  kpis[key] = { value: $(id), card: $(id + '-card'), spark };
}

function renderKpis(m) {
  const t = m.totals;
  setText(kpis.msgs.value, compact(t.msgs));
  setText(kpis.req.value, compact(t.req));
  setText(kpis.persist.value, compact(t.persist));
  setText(kpis.waiting.value, compact(t.waiting));
  setText(kpis.inRate.value, rate(t.inRate));
  setText(kpis.outRate.value, rate(t.outRate));
  setClass(kpis.persist.card, t.persist >= 5000 ? 'kpi red' : t.persist >= 1000 ? 'kpi amber' : 'kpi');
  setClass(kpis.waiting.card, m.problemCount ? 'kpi red' : 'kpi');
  for (const k of Object.keys(kpis)) kpis[k].spark.set(history_.kpiValues(k), { min: 1 });
}

// ---- sidebar ----
function renderSidebar(m) {
  setText($('count-topics'), num(m.topicCount));
  setText($('count-sessions'), num(m.totals.sessions));
  setText($('count-pages'), num(m.totals.pages));
  const list = $('problem-list');
  show($('problems'), m.problemCount > 0);
  const sig = m.problems.map((p) => p.topic + '/' + p.queue + '=' + p.size).join('|') + state.ns + m.problemCount;
  if (list.__sig !== sig) {
    list.__sig = sig;
    list.textContent = '';
    for (const p of m.problems.slice(0, 20)) {
      list.append(h('li', null, h('a', { href: queueHref(p.topic, p.queue, state.ns), title: `${p.topic} / ${p.queue}: ${num(p.size)} waiting` },
        h('span', null, `${p.topic}/${p.queue}`), h('span', { class: 'mono' }, compact(p.size)))));
    }
    if (m.problemCount > 20) list.append(h('li', { class: 'dim' }, `and ${m.problemCount - 20} more`));
  }
}

// the tab's title: the view, and the problems when there are any
function updateTitle() {
  const n = state.model ? state.model.problemCount : 0;
  const title = `${n ? `(${n} problematic) ` : ''}${state.titleBase || 'Topics'} · My Service Bus`;
  if (document.title !== title) document.title = title;
}

// ---- status bar ----
function renderStatusBar(m) {
  const s = m.status;
  const t = m.totals;
  show($('debug-badge'), !!s.debug);
  if (s.debug) setText($('debug-badge'), 'DEBUG ' + s.debug);
  const pc = m.problemCount;
  setText($('sb-problems'), pc ? plural(pc, 'problematic queue') : 'no problematic queues');
  setClass($('sb-problems'), pc > 1 ? 'sb-item red' : pc === 1 ? 'sb-item' : 'sb-item dim');
  setText($('sb-sessions'), num(t.sessions));
  setText($('sb-persist'), num(t.persist));
  setText($('sb-msgs'), compact(t.msgs));
  setText($('sb-req'), compact(t.req));
  setText($('sb-cached'), bytes(t.cached));
  const sys = s.system || {};
  setText($('sb-mem'), sys.totalmem ? `${bytes(sys.usedmem)} / ${bytes(sys.totalmem)}` : '–');
  const p = s.persistence;
  const pe = $('sb-persistence');
  if (p && p.url) {
    setText(pe, p.up ? 'Persistence up' : 'Persistence down');
    setClass(pe, p.up ? 'sb-item' : 'sb-item red');
    setAttr(pe, 'title', `${p.url}${p.lastError ? ' — ' + p.lastError : ''}`);
  } else if (p) {
    setText(pe, 'In memory only');
    setClass(pe, 'sb-item dim');
    setAttr(pe, 'title', 'no persistence service (GrpcUrl: none): messages are lost on restart');
  } else {
    setText(pe, '');
  }
  setText($('sb-versions'), `node ${s.version || '?'} · persistence ${s.persistenceVersion || '–'}`);
  setText($('sb-clock'), clock(new Date(m.at)));
  updateTitle();
}

function renderLive() {
  const el = $('live');
  const on = live.isLive();
  setAttr(el, 'data-live', on ? 'true' : 'false');
  let text;
  if (on) text = live.mode === 'ws' ? 'Live' : 'Live (polling)';
  else if (!live.lastOk) text = live.failures ? 'Offline' : 'Connecting…';
  else text = `Offline · last update ${Math.round((Date.now() - live.lastOk) / 1000)} s ago`;
  setText($('live-text'), text);
  setAttr(el, 'title', on
    ? (live.mode === 'ws' ? 'Updates are pushed over a WebSocket every second.' : 'The WebSocket is not available: polling /api/Status every second.')
    : live.lastError || 'No status received lately.');
}

// ---- the views ----
function visibleTopics(m) {
  const needle = state.needle;
  let items = m.items;
  let matches = items.length;
  if (needle) {
    const hit = items.filter((it) => topicMatches(it, needle));
    matches = hit.length;
    if (state.onlyMatches) items = hit;
  }
  items = items.slice();
  const byName = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  if (state.sort === 'rate') items.sort((a, b) => (b.t.messagesPerSec || 0) - (a.t.messagesPerSec || 0) || byName(a, b));
  else if (state.sort === 'waiting') items.sort((a, b) => b.waiting - a.waiting || byName(a, b));
  else if (state.sort === 'persist') items.sort((a, b) => (b.t.persistSize || 0) - (a.t.persistSize || 0) || byName(a, b));
  else items.sort(byName);
  return { items, matches };
}

function renderView() {
  const m = state.model;
  const view = state.route.view;
  ctx.needle = state.needle;
  ctx.sessionById = m ? m.sessionById : new Map();
  ctx.ns = state.ns;
  ctx.targetTopic = state.route.view === 'topics' ? state.route.topic : null;
  ctx.targetQueue = state.route.view === 'topics' ? state.route.queue : null;
  if (!m) return;
  const { items, matches } = visibleTopics(m);
  setText($('filter-info'), state.needle ? `${num(matches)} of ${num(m.topicCount)}` : '');
  show($('only-wrap'), !!state.needle);
  if (view === 'topics') views.topics.render(items, { total: m.topicCount, matches, needle: state.needle });
  else if (view === 'sessions') views.sessions.render(m, { needle: state.needle, ns: state.ns, target: state.route.session });
  else if (view === 'pages') views.pages.render(m, items);
  if (view === 'messages') views.messages.setTopics(m, state.ns);
  drawer.update(m);
}

// @t0: when the status text arrived (its parsing counts as part of the update)
// The first update draws before it records the histories (the KPI sparklines, the queues'
// backlogs): at a thousand topics that first record allocates one for every queue with a backlog,
// tens of ms that the first render need not wait for. It is recorded right after, before any
// later update.
let pendingHistory = null;
function recordHistory() {
  if (!pendingHistory) return;
  const m = pendingHistory;
  pendingHistory = null;
  history_.push(m);
  if (state.model === m) renderKpis(m);
}

function onStatus(status, t0) {
  const t1 = performance.now();
  const m = buildModel(status);
  recordHistory();
  state.model = m;
  // the first screen only (model.js): drawn, not recorded
  if (m.partial) {
    /* the whole status follows */
  } else if (state.historyStarted) {
    history_.push(m);
  } else {
    state.historyStarted = true;
    pendingHistory = m;
    setTimeout(recordHistory, 0);
  }
  state.updates++;
  const t2 = performance.now();
  renderView();
  renderKpis(m);
  renderSidebar(m);
  renderStatusBar(m);
  perf.last = { parseMs: live.parseMs, modelMs: t2 - t1, renderMs: performance.now() - t2 };
  if (!m.partial && perf.fullRenderMs === null) {
    perf.fullRenderMs = performance.now();
    performance.mark('msb-full-render');
    document.documentElement.dataset.fullRenderMs = perf.fullRenderMs.toFixed(1);
  }
  if (!state.firstRenderDone) {
    state.firstRenderDone = true;
    perf.firstRenderMs = performance.now();
    perf.firstPartial = m.partial;
    performance.mark('msb-first-render');
    document.documentElement.dataset.firstRenderMs = perf.firstRenderMs.toFixed(1);
    // a link to a topic: scroll to it once it is there
    if (state.route.view === 'topics' && state.route.topic) views.topics.scrollTo(state.route.topic);
    if (state.route.view === 'sessions' && state.route.session) views.sessions.scrollTo(state.route.session);
  }
  const ms = performance.now() - t0;
  perf.lastUpdateMs = ms;
  perf.updates.push(ms);
  if (perf.updates.length > 120) perf.updates.shift();
  performance.measure('msb-update', { start: t0, duration: ms });
  document.documentElement.dataset.updateMs = ms.toFixed(1);
  if (perf.updates.length > 1) document.documentElement.dataset.updateMaxMs = Math.max(...perf.updates.slice(1)).toFixed(1);
  renderLive();
  if (state.updates % 10 === 1) loadNamespaces();
}

live.addEventListener('status', (e) => onStatus(e.detail.status, e.detail.t0));
live.addEventListener('state', () => {
  renderLive();
  if (!state.model) views.topics.waiting(live.failures ? live.lastError : '');
});
live.addEventListener('reset', () => {
  pendingHistory = null;
  history_.reset();
});

// ---- namespaces ----
async function loadNamespaces() {
  try {
    const resp = await fetch('/api/Namespaces/List', { cache: 'no-store' });
    if (!resp.ok) throw new Error(String(resp.status));
    const list = await resp.json();
    state.namespaces = Array.isArray(list) ? list : [];
  } catch (e) {
    state.namespaces = [];
  }
  const names = state.namespaces.map((n) => n.name);
  if (!names.includes(state.ns)) names.push(state.ns);
  if (!names.includes('default')) names.unshift('default');
  const sel = $('ns');
  const sig = state.namespaces.map((n) => n.name + ':' + n.topicsAmount).join('|') + '|' + state.ns;
  if (sel.__sig !== sig) {
    sel.__sig = sig;
    sel.textContent = '';
    for (const name of names.sort()) {
      const info = state.namespaces.find((n) => n.name === name);
      sel.append(h('option', { value: name }, info ? `${name} (${num(info.topicsAmount)})` : name));
    }
    sel.value = state.ns;
  }
  show($('ns-wrap'), names.length > 1);
}

function setNs(ns, updateHash) {
  ns = ns || 'default';
  if (ns === state.ns && state.started) return;
  state.started = true;
  state.ns = ns;
  localStorage.setItem(NS_KEY, ns);
  setNamespace(ns);
  pendingHistory = null;
  history_.reset();
  state.model = null;
  state.firstRenderDone = false;
  state.historyStarted = false;
  $('ns').value = ns;
  live.start(ns);
  if (updateHash) {
    const r = state.route;
    const href = r.view === 'topics' ? viewHref('topics', ns) : viewHref(r.view, ns);
    go(href);
  }
  updateNavLinks();
}

$('ns').addEventListener('change', () => setNs($('ns').value, true));

function updateNavLinks() {
  for (const a of document.querySelectorAll('.nav')) a.setAttribute('href', viewHref(a.dataset.view, state.ns));
}

// ---- routes ----
function applyRoute() {
  const r = parseHash(location.hash);
  state.route = r;
  if (r.ns && r.ns !== state.ns) setNs(r.ns, false);
  for (const a of document.querySelectorAll('.nav')) {
    if (a.dataset.view === r.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [name, v] of Object.entries(views)) {
    const section = $('view-' + name);
    section.hidden = name !== r.view;
    if (v.setActive) v.setActive(name === r.view);
  }
  show($('sort-wrap'), r.view === 'topics' || r.view === 'pages');
  show($('compact-wrap'), r.view === 'topics');
  if (r.view === 'topics' && r.topic) drawer.open(r.topic, r.queue, state.ns);
  else drawer.close();
  if (r.view === 'messages') {
    if (state.model) views.messages.setTopics(state.model, state.ns);
    const from = r.params.get('from');
    views.messages.show(r.topic, from !== null && /^\d+$/.test(from) ? Number(from) : null);
  }
  renderView();
  if (state.model && r.view === 'topics' && r.topic) views.topics.scrollTo(r.topic);
  if (state.model && r.view === 'sessions' && r.session) views.sessions.scrollTo(r.session);
  state.titleBase = r.topic ? r.topic : `${r.view[0].toUpperCase()}${r.view.slice(1)}`;
  updateTitle();
}
window.addEventListener('hashchange', applyRoute);

// ---- top bar ----
let filterRaf = 0;
$('filter').addEventListener('input', () => {
  state.needle = $('filter').value.trim().toLowerCase();
  if (!filterRaf) {
    filterRaf = requestAnimationFrame(() => {
      filterRaf = 0;
      renderView();
    });
  }
});
$('only-matches').addEventListener('change', () => {
  state.onlyMatches = $('only-matches').checked;
  renderView();
});
$('sort').value = state.sort;
$('sort').addEventListener('change', () => {
  state.sort = $('sort').value;
  localStorage.setItem('msb_sort', state.sort);
  renderView();
});
$('create-topic').addEventListener('click', () => actions.createTopic());
function applyCompact(on) {
  ctx.compact = on;
  document.body.classList.toggle('compact', on);
  localStorage.setItem('msb_compact', on ? '1' : '');
}
$('compact').checked = localStorage.getItem('msb_compact') === '1';
applyCompact($('compact').checked);
$('compact').addEventListener('change', () => {
  applyCompact($('compact').checked);
  views.topics.relayout();
});
actions.onAfterAction(() => live.refreshSoon());

// ---- keyboard ----
document.addEventListener('keydown', (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
  if (e.key === '/' && !typing && !anyDialogOpen()) {
    e.preventDefault();
    $('filter').focus();
    $('filter').select();
  } else if (e.key === 'Escape' && !anyDialogOpen()) {
    if (e.target === $('filter') && $('filter').value) {
      $('filter').value = '';
      $('filter').dispatchEvent(new Event('input'));
    } else if (drawer.isOpen()) {
      go(viewHref('topics', state.ns));
    }
  }
});

setInterval(renderLive, 1000);
setNamespace(state.ns);
if (state.route.ns) state.ns = state.route.ns;
setNs(state.ns, false);
applyRoute();
performance.mark('msb-main-ready');
