// ui-render-bench.mjs: the web UI in headless Chromium against a running broker: time to first
// render and per status update, as the page measures them with the Performance API
// (window.msbPerf, docs/ui.md: first render since navigation start; an update from the status
// text's arrival to the end of its rendering). Driven by bench/run-ui-bench.sh; playwright-core
// comes from tests/browser/node_modules (npm ci there).
//
//   MSB_HTTP_PORT=PORT [MSB_TCP_PORT=PORT] [UPDATES=15] [CHROMIUM=/usr/bin/chromium] node ui-render-bench.mjs

import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(pathToFileURL(join(here, '..', 'tests', 'browser', 'node_modules', 'playwright-core', 'index.mjs')).href);

const port = Number(process.env.MSB_HTTP_PORT);
const tcpPort = Number(process.env.MSB_TCP_PORT || 0);
const updates = Number(process.env.UPDATES || 15);
const base = `http://127.0.0.1:${port}`;

function pct(v, p) {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

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
try {
  const results = [];
  for (let run = 1; run <= 3; run++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.msbPerf && window.msbPerf.firstRenderMs !== null, null, { timeout: 60000 });
    await page.waitForFunction((n) => window.msbPerf.updates.length > n, updates, { timeout: 120000, polling: 500 });
    const perf = await page.evaluate(() => ({ first: window.msbPerf.firstRenderMs, updates: window.msbPerf.updates.slice(1) }));
    results.push(perf);
    console.log(`run ${run}: first render ${perf.first.toFixed(0)} ms after navigation start; ` +
      `updates (${perf.updates.length}): median ${pct(perf.updates, 50).toFixed(1)} ms, ` +
      `p95 ${pct(perf.updates, 95).toFixed(1)} ms, max ${Math.max(...perf.updates).toFixed(1)} ms`);
    await page.close();
  }
  const firsts = results.map((r) => r.first);
  const all = results.flatMap((r) => r.updates);
  console.log(`UI: first render median ${pct(firsts, 50).toFixed(0)} ms; per update median ` +
    `${pct(all, 50).toFixed(1)} ms, p95 ${pct(all, 95).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms`);
} finally {
  await browser.close();
  stop();
}
