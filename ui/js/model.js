// What the views read: one pass over a /api/Status answer (node.md §6.4) into per-topic items
// with their queues and subscribers, the totals of the KPI strip, and the problematic queues.
// Histories that the status does not carry (KPIs, queue backlogs) are kept here, client-side,
// from the updates received since the page was opened.
//
// A status with a "summary" member is /api/Status/First, the first screen only (the boot script of index.html): its
// items are the first topics of the list, and the counts, totals and problematic queues of the
// whole namespace come from the summary. Such a model is "partial": it is drawn, not recorded in
// the histories, and the whole status follows at once (live.js).

export const PROBLEM_WAITING = 10000;
const KPI_SAMPLES = 60;
export const BACKLOG_SAMPLES = 600; // ten minutes at one update a second

export function buildModel(status) {
  const topics = (status.topics && status.topics.items) || [];
  const queuesBy = status.queues || {};
  const sessions = (status.sessions && status.sessions.items) || [];
  const sessionById = new Map();
  let inRate = 0;
  let outRate = 0;
  for (const s of sessions) {
    sessionById.set(s.id, s);
    inRate += s.readPerSec || 0;
    outRate += s.writtenPerSec || 0;
  }
  let msgs = 0;
  let req = 0;
  let persist = 0;
  let waiting = 0;
  let cached = 0;
  let pages = 0;
  const problems = [];
  const items = new Array(topics.length);
  const byId = new Map();
  for (let i = 0; i < topics.length; i++) {
    const t = topics[i];
    const qs = (queuesBy[t.id] && queuesBy[t.id].queues) || [];
    const subsByQueue = new Map();
    for (const s of t.subscribers || []) {
      let list = subsByQueue.get(s.queueId);
      if (!list) subsByQueue.set(s.queueId, (list = []));
      list.push(s);
    }
    let tw = 0;
    let problem = false;
    for (const q of qs) {
      tw += q.size || 0;
      if (q.size > PROBLEM_WAITING) {
        problem = true;
        problems.push({ topic: t.id, queue: q.id, size: q.size });
      }
    }
    let tc = 0;
    for (const p of t.pages || []) tc += p.size || 0;
    msgs += t.messagesPerSec || 0;
    req += t.packetPerSec || 0;
    persist += t.persistSize || 0;
    waiting += tw;
    cached += tc;
    pages += (t.pages || []).length;
    const item = { id: t.id, t, queues: qs, subsByQueue, waiting: tw, cached: tc, problem };
    items[i] = item;
    byId.set(t.id, item);
  }
  problems.sort((a, b) => b.size - a.size);
  const model = {
    status,
    partial: false,
    items,
    byId,
    topicCount: items.length,
    sessions,
    sessionById,
    problems,
    problemCount: problems.length,
    totals: { msgs, req, persist, waiting, cached, pages, inRate, outRate, sessions: sessions.length },
    at: Date.now(),
  };
  const sum = status.summary;
  if (sum && typeof sum === 'object') {
    model.partial = true;
    model.topicCount = sum.topics || 0;
    model.problems = Array.isArray(sum.problems) ? sum.problems : [];
    model.problemCount = sum.problemQueues || model.problems.length;
    model.totals = {
      msgs: sum.messagesPerSec || 0,
      req: sum.packetPerSec || 0,
      persist: sum.persistSize || 0,
      waiting: sum.waiting || 0,
      cached: sum.cachedBytes || 0,
      pages: sum.pages || 0,
      inRate: sum.readPerSec || 0,
      outRate: sum.writtenPerSec || 0,
      sessions: sum.sessions || 0,
    };
  }
  return model;
}

// A ring of the last @capacity values. Its buffer starts small and doubles as values arrive:
// at 1,000 topics × 10 queues the first update would otherwise allocate 48 MB of histories that
// hold one value each (most of the first render's time).
class Ring {
  constructor(capacity, Type = Float64Array, initial = 8) {
    this.cap = capacity;
    this.buf = new Type(Math.min(initial, capacity));
    this.n = 0;
    this.head = 0;
  }
  push(v) {
    if (this.n === this.buf.length && this.buf.length < this.cap) {
      // full and still small: the values in order, oldest first, into a bigger buffer
      const bigger = new this.buf.constructor(Math.min(this.buf.length * 2, this.cap));
      bigger.set(this.toArray());
      this.buf = bigger;
      this.head = this.n;
    }
    this.buf[this.head] = v;
    this.head = (this.head + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }
  // the last @k values, oldest first
  tail(k) {
    const n = Math.min(k, this.n);
    const out = new Array(n);
    const cap = this.buf.length;
    for (let i = 0; i < n; i++) out[i] = this.buf[(this.head - n + i + cap) % cap];
    return out;
  }

  toArray() {
    const out = new Array(this.n);
    const cap = this.buf.length;
    for (let i = 0; i < this.n; i++) out[i] = this.buf[(this.head - this.n + i + cap) % cap];
    return out;
  }
}

export class History {
  constructor() {
    this.reset();
  }

  reset() {
    this.kpi = {};
    for (const k of ['msgs', 'req', 'persist', 'waiting', 'inRate', 'outRate']) this.kpi[k] = new Ring(KPI_SAMPLES);
    this.times = new Ring(BACKLOG_SAMPLES);
    this.samples = 0;
    // topic → queue → {size: Ring, onDelivery: Ring, seen}; only for queues that ever had a
    // backlog or messages in flight (the others are all zeros)
    this.queues = new Map();
    this.started = Date.now();
  }

  push(model) {
    for (const k of Object.keys(this.kpi)) this.kpi[k].push(model.totals[k]);
    this.times.push(model.at);
    this.samples++;
    const gen = this.samples;
    for (const item of model.items) {
      let byQueue = this.queues.get(item.id);
      for (const q of item.queues) {
        let h = byQueue && byQueue.get(q.id);
        if (!h) {
          if (!q.size && !q.onDelivery) continue;
          h = { size: new Ring(BACKLOG_SAMPLES, Float32Array), onDelivery: new Ring(BACKLOG_SAMPLES, Float32Array), seen: 0 };
          // until now it was empty (or did not exist)
          const before = Math.min(this.samples - 1, BACKLOG_SAMPLES - 1);
          for (let i = 0; i < before; i++) {
            h.size.push(0);
            h.onDelivery.push(0);
          }
          if (!byQueue) this.queues.set(item.id, (byQueue = new Map()));
          byQueue.set(q.id, h);
        }
        h.size.push(q.size || 0);
        h.onDelivery.push(q.onDelivery || 0);
        h.seen = gen;
      }
    }
    // deleted queues and topics: their history goes with them
    for (const [topic, byQueue] of this.queues) {
      for (const [queue, h] of byQueue) if (h.seen !== gen) byQueue.delete(queue);
      if (!byQueue.size) this.queues.delete(topic);
    }
  }

  kpiValues(k) {
    return this.kpi[k].toArray();
  }

  // the waiting counts of the last @k updates (empty when the queue never had any)
  recentBacklog(topic, queue, k) {
    const byQueue = this.queues.get(topic);
    const h = byQueue && byQueue.get(queue);
    return h ? h.size.tail(k) : [];
  }

  backlog(topic, queue) {
    const times = this.times.toArray();
    const byQueue = this.queues.get(topic);
    const h = byQueue && byQueue.get(queue);
    const zeros = () => times.map(() => 0);
    if (!h) return { times, size: zeros(), onDelivery: zeros() };
    const size = h.size.toArray();
    const onDelivery = h.onDelivery.toArray();
    const n = Math.min(times.length, size.length);
    return { times: times.slice(times.length - n), size: size.slice(size.length - n), onDelivery: onDelivery.slice(onDelivery.length - n) };
  }
}
