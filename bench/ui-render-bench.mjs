// ui-render-bench.mjs: the web UI in headless Chromium against a running broker: time to first
// render and per status update, as the page measures them with the Performance API
// (window.msbPerf, ui/js/main.js: the first render's moment since navigation start, and each
// update from the status text's arrival to the end of its rendering, JSON.parse included;
// the same figures are on <html> as data-first-render-ms / data-update-ms). Driven by
// bench/run-ui-bench.sh; playwright-core comes from tests/browser/node_modules (npm ci there).
//
// LOADS page loads, each in a fresh browser context (empty cache, as an operator opening the
// page), each kept open for UPDATES updates. Also taken from the page, to explain the first
// render: the document's and the modules' loading (Navigation and Resource Timing), the first
// /api/Status request, and the parse/model/render split of the first update (msbPerf.last).
// The first render is the first screen, drawn from /api/Status/First (the first topics and a
// summary, first_partial true) or the whole status; full_render_ms is when a whole status was
// first drawn. One JSON line per page load and one summary line on stdout.
//
//   MSB_HTTP_PORT=PORT [MSB_TCP_PORT=PORT] [LOADS=3] [UPDATES=15] [CHROMIUM=/usr/bin/chromium] \
//     node ui-render-bench.mjs

import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(pathToFileURL(join(here, '..', 'tests', 'browser', 'node_modules', 'playwright-core', 'index.mjs')).href);

const port = Number(process.env.MSB_HTTP_PORT);
const tcpPort = Number(process.env.MSB_TCP_PORT || 0);
const loads = Number(process.env.LOADS || 3);
const updates = Number(process.env.UPDATES || 15);
const base = `http://127.0.0.1:${port}`;

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

// A publisher that keeps the counters moving (one message to one of 50 topics every 20 ms), so
// that every update changes something on screen.
function publisher() {
  if (!tcpPort) return () => {};
  const s = createConnection({ host: '127.0.0.1', port: tcpPort });
  s.on('data', () => {});
  s.on('error', () => {});
  s.write(Buffer.from('020E64656D6F3A312E303B312E312E3503000000', 'hex'));
  let n = 0;
  const timer = setInterval(() => {
    const topic = Buffer.from(`topic-${String(n % 50).padStart(4, '0')}`);
    const content = Buffer.from(`bench-${n}`);
    const b = Buffer.alloc(2 + topic.length + 8 + 4 + 1 + 4 + content.length + 1);
    let o = 0;
    b[o++] = 3;
    b[o++] = topic.length;
    topic.copy(b, o); o += topic.length;
    b.writeBigInt64LE(BigInt(++n), o); o += 8;
    b.writeInt32LE(1, o); o += 4;
    b[o++] = 0; // no headers (P = 3)
    b.writeInt32LE(content.length, o); o += 4;
    content.copy(b, o); o += content.length;
    b[o++] = 0; // not persist_immediately
    s.write(b);
  }, 20);
  return () => { clearInterval(timer); s.destroy(); };
}

const stop = publisher();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const rows = [];
try {
  // A warm-up page first: a new headless Chromium does work of its own in its first seconds (it
  // loads its omnibox WebUI), which would fall on the first measured load; an operator opens the
  // UI in a browser already running.
  {
    const warm = await browser.newContext();
    await (await warm.newPage()).goto('about:blank');
    await new Promise((r) => setTimeout(r, 2000));
    await warm.close();
  }
  for (let load = 1; load <= loads; load++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    // every update's parse/model/render split: main.js overwrites msbPerf.last on each update,
    // so the property becomes an accessor that keeps them all (window.__msbSplits[i] belongs
    // to msbPerf.updates[i])
    await page.addInitScript(() => {
      let stored;
      const splits = [];
      window.__msbSplits = splits;
      Object.defineProperty(window, 'msbPerf', {
        configurable: true,
        get() { return stored; },
        set(p) {
          stored = p;
          let last = p.last;
          Object.defineProperty(p, 'last', { enumerable: true, get() { return last; }, set(v) { last = v; splits.push(v); } });
        },
      });
    });
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.msbPerf && window.msbPerf.firstRenderMs !== null, null, { timeout: 60000 });
    const first = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const js = res.filter((r) => r.name.endsWith('.js') || r.name.endsWith('.css'));
      const status = res.find((r) => r.name.includes('/api/Status'));
      return {
        first_render_ms: window.msbPerf.firstRenderMs,
        first_partial: window.msbPerf.firstPartial,
        attr_first_render_ms: Number(document.documentElement.dataset.firstRenderMs),
        document_ms: nav ? nav.responseEnd : null,
        dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
        assets: js.length,
        assets_done_ms: js.length ? Math.max(...js.map((r) => r.responseEnd)) : null,
        status_request_ms: status ? status.startTime : null,
        status_response_ms: status ? status.responseEnd : null,
        status_bytes: status ? status.decodedBodySize : null,
        first_update_ms: window.msbPerf.updates[0],
        first_split: window.__msbSplits[0],
        waterfall: res.map((r) => [r.name.replace(location.origin, ''), Math.round(r.startTime), Math.round(r.responseEnd)]),
        // the page's own marks (main.js: msb-main-start, msb-main-ready, msb-first-render)
        marks: performance.getEntriesByType('mark').map((e) => [e.name, Math.round(e.startTime)]),
      };
    });
    await page.waitForFunction((n) => window.msbPerf.updates.length > n, updates,
      { timeout: 60000 + updates * 3000, polling: 200 });
    const after = await page.evaluate(() => ({
      full_render_ms: window.msbPerf.fullRenderMs,
      updates: window.msbPerf.updates.slice(1),
      splits: window.__msbSplits.slice(1),
      attr_update_ms: Number(document.documentElement.dataset.updateMs),
      measures: performance.getEntriesByName('msb-update').length,
      live: document.querySelector('[data-testid=live-indicator]')?.dataset.live ?? null,
      topic_rows_in_dom: document.querySelectorAll('[data-testid=topic-row]').length,
    }));
    const u = after.updates;
    const row = {
      load,
      first_render_ms: r1(first.first_render_ms),
      first_partial: first.first_partial,
      full_render_ms: r1(after.full_render_ms),
      document_ms: r1(first.document_ms),
      dom_content_loaded_ms: r1(first.dom_content_loaded_ms),
      assets: first.assets,
      assets_done_ms: r1(first.assets_done_ms),
      status_request_ms: r1(first.status_request_ms),
      status_response_ms: r1(first.status_response_ms),
      status_bytes: first.status_bytes,
      first_status_arrived_ms: r1(first.first_render_ms - first.first_update_ms),
      first_update_ms: r1(first.first_update_ms),
      first_parse_ms: r1(first.first_split?.parseMs),
      first_model_ms: r1(first.first_split?.modelMs),
      first_render_only_ms: r1(first.first_split?.renderMs),
      updates: u.length,
      update_median_ms: r1(median(u)),
      update_p95_ms: r1(pct(u, 95)),
      update_max_ms: r1(u.length ? Math.max(...u) : null),
      parse_median_ms: r1(median(after.splits.map((s) => s.parseMs))),
      model_median_ms: r1(median(after.splits.map((s) => s.modelMs))),
      render_median_ms: r1(median(after.splits.map((s) => s.renderMs))),
      live: after.live,
      topic_rows_in_dom: after.topic_rows_in_dom,
      performance_measures: after.measures,
      all_updates_ms: u.map(r1),
      waterfall: first.waterfall,
      marks: first.marks,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    await context.close();
  }
  const all = rows.flatMap((r) => r.all_updates_ms);
  console.log(JSON.stringify({
    summary: true,
    loads: rows.length,
    first_render_median_ms: r1(median(rows.map((r) => r.first_render_ms))),
    first_render_ms: rows.map((r) => r.first_render_ms),
    full_render_median_ms: r1(median(rows.map((r) => r.full_render_ms))),
    update_median_of_medians_ms: r1(median(rows.map((r) => r.update_median_ms))),
    update_median_all_ms: r1(median(all)),
    update_p95_all_ms: r1(pct(all, 95)),
    update_max_all_ms: r1(all.length ? Math.max(...all) : null),
    updates: all.length,
  }));
} finally {
  await browser.close();
  stop();
}
