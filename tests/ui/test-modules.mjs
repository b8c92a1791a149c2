// Unit tests of the web UI's pure modules (ui/js), run with Node's test runner: the parts that
// decide what an operator sees (id splitting, routes, the status model and its histories, topic
// name rules, latency colours) without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ui = new URL('../../ui/js/', import.meta.url);
const { splitId, shortSid, bytes, compact } = await import(new URL('format.js', ui));
const router = await import(new URL('router.js', ui));
const { buildModel, History, PROBLEM_WAITING, BACKLOG_SAMPLES } = await import(new URL('model.js', ui));
const { topicNameProblem } = await import(new URL('actions.js', ui));
const { latencyClass } = await import(new URL('spark.js', ui));

test('message ids: the last five digits are the id inside its page', () => {
  assert.deepEqual(splitId(12345678), ['123', '45678']);
  assert.deepEqual(splitId(100000), ['1', '00000']);
  assert.deepEqual(splitId(99999), ['', '99999']);
  assert.deepEqual(splitId(0), ['', '0']);
  assert.deepEqual(splitId(-1), ['', '-1']);
  assert.equal(shortSid(1234), '#34');
  assert.equal(shortSid(7), '#07');
});

test('sizes and counts', () => {
  assert.equal(bytes(0), '0 B');
  assert.equal(bytes(1536), '1.50 KiB');
  assert.equal(bytes(5 * 1024 * 1024 * 1024), '5.00 GiB');
  assert.equal(compact(1234), '1,234');
  assert.equal(compact(25000), '25.0k');
  assert.equal(compact(20_450_000), '20.45M');
  assert.equal(compact(250_000_000), '250.0M');
});

test('routes: views, topics, queues, sessions and messages, with a namespace', () => {
  let r = router.parseHash('');
  assert.equal(r.view, 'topics');
  assert.equal(r.topic, null);
  r = router.parseHash('#/topics/orders');
  assert.deepEqual([r.view, r.topic, r.queue], ['topics', 'orders', null]);
  r = router.parseHash('#/topics/orders/queues/billing%2Fv2%20eu?ns=stage');
  assert.deepEqual([r.view, r.topic, r.queue, r.ns], ['topics', 'orders', 'billing/v2 eu', 'stage']);
  r = router.parseHash('#/sessions/42');
  assert.deepEqual([r.view, r.session], ['sessions', '42']);
  r = router.parseHash('#/messages/orders?from=100');
  assert.deepEqual([r.view, r.topic, r.params.get('from')], ['messages', 'orders', '100']);
  r = router.parseHash('#/nonsense/x');
  assert.equal(r.view, 'topics');
  // what the UI links to reads back as the same place
  for (const [t, q, ns] of [['orders', 'q 1/2?#', 'default'], ['a-b', 'x', 'stage']]) {
    const back = router.parseHash(router.queueHref(t, q, ns));
    assert.deepEqual([back.topic, back.queue, back.ns || 'default'], [t, q, ns]);
  }
  assert.equal(router.queueHref('t', 'q', 'default'), '#/topics/t/queues/q');
  assert.equal(router.messagesHref('t', 5, 'stage'), '#/messages/t?from=5&ns=stage');
  assert.equal(router.viewHref('pages', 'default'), '#/pages');
});

function status() {
  return {
    topics: {
      snapshotId: 1,
      items: [
        { id: 'orders', messageId: 50000, messagesPerSec: 10, packetPerSec: 2, persistSize: 1200, persist: true,
          pages: [{ id: 0, amount: 100, size: 2048, persist_size: 3, subPages: [0, 1] }],
          publishers: [{ sessionId: 1, active: 2 }],
          subscribers: [{ id: 7, sessionId: 2, queueId: 'billing', deliveryState: 0, history: [5] },
            { id: 8, sessionId: 3, queueId: 'billing', deliveryState: 2, history: [] }] },
        { id: 'audit', messageId: 3 },
      ],
    },
    queues: {
      orders: { snapshotId: 1, queues: [
        { id: 'billing', queueType: 0, size: PROBLEM_WAITING + 1, onDelivery: 5, data: [{ fromId: 0, toId: 10000 }] },
        { id: 'stats', queueType: 1, size: 0, onDelivery: 0, data: [{ fromId: 50000, toId: 49999 }] }] },
    },
    sessions: { snapshotId: 1, items: [
      { id: 1, name: 'pub', readPerSec: 100, writtenPerSec: 10 },
      { id: 2, name: 'sub', readPerSec: 5, writtenPerSec: 500 }] },
    system: { usedmem: 1, totalmem: 2 },
  };
}

test('the model: totals, problematic queues, subscribers by queue, missing fields', () => {
  const m = buildModel(status());
  assert.equal(m.items.length, 2);
  assert.deepEqual(m.totals, { msgs: 10, req: 2, persist: 1200, waiting: PROBLEM_WAITING + 1, cached: 2048, pages: 1,
    inRate: 105, outRate: 510, sessions: 2 });
  assert.deepEqual(m.problems, [{ topic: 'orders', queue: 'billing', size: PROBLEM_WAITING + 1 }]);
  const orders = m.byId.get('orders');
  assert.equal(orders.problem, true);
  assert.deepEqual(orders.subsByQueue.get('billing').map((s) => s.id), [7, 8]);
  assert.equal(orders.subsByQueue.get('stats'), undefined);
  // a topic without queues, pages or subscribers in the status
  const audit = m.byId.get('audit');
  assert.deepEqual([audit.queues.length, audit.waiting, audit.problem], [0, 0, false]);
  assert.equal(m.sessionById.get(2).name, 'sub');
  // a status with nothing in it
  const empty = buildModel({});
  assert.deepEqual([empty.items.length, empty.sessions.length, empty.totals.msgs], [0, 0, 0]);
});

test('histories: 60 KPI samples, queue backlogs aligned with time, dropped with their queue', () => {
  const h = new History();
  for (let i = 0; i < 70; i++) {
    const s = status();
    s.queues.orders.queues[0].size = i;
    // the second queue gets a backlog from the 50th update on
    s.queues.orders.queues[1].size = i >= 50 ? 1 : 0;
    const m = buildModel(s);
    m.at = 1000 * i;
    h.push(m);
  }
  assert.equal(h.kpiValues('msgs').length, 60);
  const billing = h.backlog('orders', 'billing');
  assert.equal(billing.times.length, 70);
  assert.equal(billing.size.length, 70);
  assert.equal(billing.size[69], 69);
  assert.equal(billing.times[69], 69000);
  assert.equal(billing.onDelivery[0], 5);
  // zeros until it had something, then its sizes, on the same time axis
  const stats = h.backlog('orders', 'stats');
  assert.equal(stats.size.length, 70);
  assert.equal(stats.size[49], 0);
  assert.equal(stats.size[50], 1);
  // the last minute of a queue, for its sparkline
  assert.deepEqual(h.recentBacklog('orders', 'billing', 3), [67, 68, 69]);
  assert.equal(h.recentBacklog('orders', 'billing', 60).length, 60);
  assert.deepEqual(h.recentBacklog('orders', 'nothing', 60), []);
  // a queue never seen with a backlog: all zeros
  assert.deepEqual(new Set(h.backlog('orders', 'nothing').size), new Set([0]));
  // at most BACKLOG_SAMPLES
  for (let i = 0; i < BACKLOG_SAMPLES; i++) h.push(buildModel(status()));
  assert.equal(h.backlog('orders', 'billing').size.length, BACKLOG_SAMPLES);
  // a deleted queue's history goes
  const s = status();
  s.queues.orders.queues = [];
  h.push(buildModel(s));
  assert.equal(h.queues.size, 0);
  h.reset();
  assert.equal(h.kpiValues('msgs').length, 0);
});

test('a backlog history grows its buffer and keeps the last BACKLOG_SAMPLES values in order', () => {
  const h = new History();
  const n = BACKLOG_SAMPLES + 100;
  for (let i = 0; i < n; i++) {
    const s = status();
    s.queues.orders.queues[0].size = i + 1;
    h.push(buildModel(s));
    if (i === 8 || i === 9 || i === 300) {
      // across a growth of the buffer nothing is lost or reordered
      const size = h.backlog('orders', 'billing').size;
      assert.equal(size.length, i + 1);
      assert.deepEqual(size.slice(-3), [i - 1, i, i + 1]);
    }
  }
  const size = h.backlog('orders', 'billing').size;
  assert.equal(size.length, BACKLOG_SAMPLES);
  assert.equal(size[0], n - BACKLOG_SAMPLES + 1);
  assert.equal(size[BACKLOG_SAMPLES - 1], n);
  for (let i = 1; i < size.length; i++) assert.equal(size[i], size[i - 1] + 1);
});

test('topic names as the broker checks them (node.md §2.2)', () => {
  for (const ok of ['abc', 'orders-created', 'a1-b2', 'x'.repeat(63)]) assert.equal(topicNameProblem(ok), null, ok);
  for (const bad of ['ab', 'x'.repeat(64), 'Orders', 'a_b', '-abc', 'abc-', 'a--b', 'topics', 'a b'])
    assert.notEqual(topicNameProblem(bad), null, bad);
});

test('latency colours by the largest latency', () => {
  assert.equal(latencyClass([]), 'green');
  assert.equal(latencyClass([10, 999]), 'green');
  assert.equal(latencyClass([1000]), '');
  assert.equal(latencyClass([10000]), 'amber');
  assert.equal(latencyClass([50000, -3]), 'red');
  assert.equal(latencyClass([-50]), 'green');
});

test('the status the boot script asked for early goes to the first start of its namespace, once', async () => {
  const { takeBootStatus } = await import(new URL('live.js', ui));
  const status = Promise.resolve('{"topics":{"items":[]}}');
  globalThis.msbBoot = { ns: 'stage', status };
  assert.equal(takeBootStatus('default'), null); // another namespace fetches its own
  assert.equal(takeBootStatus('stage'), status);
  assert.equal(takeBootStatus('stage'), null); // later polls are fresh requests
  globalThis.msbBoot = undefined;
  assert.equal(takeBootStatus('default'), null);
});

test('ui/bundle.py: one file holding every module, with no import or export left', async () => {
  const { execFileSync } = await import('node:child_process');
  const vm = await import('node:vm');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'msb-bundle-'));
  try {
    const out = join(dir, 'app.js');
    execFileSync('python3', [new URL('../bundle.py', ui).pathname, out, new URL('main.js', ui).pathname]);
    const text = readFileSync(out, 'utf8');
    new vm.Script(text); // a syntax error, or an import or export statement, throws here
    for (const name of ['dom', 'format', 'live', 'model', 'topics', 'actions', 'main']) {
      assert.match(text, new RegExp(`^const __msb_${name} = `, 'm'));
    }
    // dependencies before the modules that use them, as the browser would run them
    assert.ok(text.indexOf('const __msb_dom = ') < text.indexOf('const __msb_topics = '));
    assert.ok(text.indexOf('const __msb_topics = ') < text.indexOf('const __msb_main = '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('num: integers grouped as Intl.NumberFormat en-US groups them, the rest by it', async () => {
  const { num } = await import(new URL('format.js', ui));
  const nf = new Intl.NumberFormat('en-US');
  for (const n of [0, 7, 12, 123, 999, 1000, 1234, 12345, 123456, 1234567, 1000000, 20450000,
    -1, -999, -1000, -1234567, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -0,
    1.5, 1234.5678, -0.25, 1e21, Infinity, -Infinity, 2 ** 60]) {
    assert.equal(num(n), nf.format(n), String(n));
  }
  assert.equal(num(null), '–');
  assert.equal(num(undefined), '–');
  assert.equal(num(NaN), '–');
});

// /api/Status/First: a status with a "summary" (the first topics and the namespace's figures)
test('the first screen: rows from its topics, counts and totals from its summary', () => {
  const status = {
    topics: { items: [{ id: 'alpha', messagesPerSec: 1, pages: [{ id: 0, size: 10 }] }, { id: 'beta', persistSize: 2 }] },
    queues: { alpha: { queues: [{ id: 'q', size: 3, onDelivery: 0 }] } },
    sessions: { items: [{ id: 7, name: 'app' }] },
    summary: {
      topics: 1000, sessions: 200, messagesPerSec: 500, packetPerSec: 50, persistSize: 9, waiting: 123456,
      cachedBytes: 4096, pages: 1000, readPerSec: 11, writtenPerSec: 22, problemQueues: 150,
      problems: [{ topic: 'zeta', queue: 'slow', size: 20000 }],
    },
  };
  const m = buildModel(status);
  assert.equal(m.partial, true);
  assert.deepEqual(m.items.map((i) => i.id), ['alpha', 'beta']);
  assert.equal(m.items[0].waiting, 3);
  assert.equal(m.topicCount, 1000);
  assert.equal(m.problemCount, 150);
  assert.deepEqual(m.problems, [{ topic: 'zeta', queue: 'slow', size: 20000 }]);
  assert.deepEqual(m.totals, { msgs: 500, req: 50, persist: 9, waiting: 123456, cached: 4096, pages: 1000, inRate: 11, outRate: 22, sessions: 200 });
  assert.equal(m.sessionById.get(7).name, 'app');

  // a whole status: everything counted from its topics, as before
  delete status.summary;
  const w = buildModel(status);
  assert.equal(w.partial, false);
  assert.equal(w.topicCount, 2);
  assert.equal(w.problemCount, 0);
  assert.deepEqual(w.totals, { msgs: 1, req: 0, persist: 2, waiting: 3, cached: 10, pages: 1, inRate: 0, outRate: 0, sessions: 1 });
});

test('live: the first screen is drawn, then the whole status; a first screen after a whole one is dropped', async () => {
  const { Live } = await import(new URL('live.js', ui));
  const live = new Live();
  clearInterval(live.watchdog);
  live.ns = 'default';
  live.generation = 1;
  live.partial = false;
  live.hadWhole = false;
  const seen = [];
  live.addEventListener('status', (e) => seen.push(e.detail.status.summary ? 'first' : 'whole'));
  const first = { parsed: { topics: { items: [] }, summary: { topics: 3 } }, parseMs: 0 };
  live.accept(first, 1);
  assert.equal(live.partial, true); // the next poll comes at once
  live.accept('{"topics":{"items":[]}}', 1);
  assert.equal(live.partial, false);
  live.accept(first, 1); // late (the socket was quicker): nothing new in it
  assert.deepEqual(seen, ['first', 'whole']);
  assert.equal(live.partial, false);
});
