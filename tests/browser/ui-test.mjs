// The web UI in a real browser: Debian's Chromium, headless, driven by playwright-core (pinned by
// package-lock.json). It starts the broker with topics, queues, a publisher and subscribers
// (msbctl), opens the UI and checks what an operator sees and does: names and counts, a publish
// showing up without a reload (the live WebSocket), the message browser showing a message's
// content, and delete-queue through the UI removing the queue on the server (with the admin-token
// dialog when the build knows HttpAdminToken). A screenshot of each view is saved in the log
// folder it prints.
//
// Usage: node ui-test.mjs   with MSB_BROKER, MSBCTL and MSB_BROWSER_LOG_DIR in the environment
// (meson sets them; CHROMIUM overrides /usr/bin/chromium).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BROKER = process.env.MSB_BROKER;
const MSBCTL = process.env.MSBCTL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LOG_DIR = process.env.MSB_BROWSER_LOG_DIR || mkdtempSync(join(tmpdir(), 'msb-browser-log-'));
const TIMEOUT = 15000;
const TOKEN = 'browser-test-token';

const clients = new Set(); // msbctl subscribers
const brokers = new Set();
const tmpDirs = [];

function fail(text) {
  throw new Error(text);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what, fn, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function track(child, name) {
  clients.add(child);
  child.stdout?.on('data', () => {});
  child.stderr?.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  child.on('exit', () => clients.delete(child));
  return child;
}

function kill(set) {
  for (const c of set) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  set.clear();
}

function killAll() {
  kill(clients);
  kill(brokers);
}

// A broker on ephemeral ports in its own folder; resolves to { ports, stop() }, or null when it
// refused its settings (an unknown key) with that text in .error.
async function startBroker(extraSettings = '') {
  const dir = mkdtempSync(join(tmpdir(), 'msb-browser-'));
  tmpDirs.push(dir);
  const settings = join(dir, 'settings.yaml');
  const ready = join(dir, 'ready');
  writeFileSync(settings, 'GrpcUrl: none\nListenAddress: 127.0.0.1\nAutoCreateTopicOnSubscribe: true\n' + extraSettings);
  let stderr = '';
  const child = spawn(BROKER, ['--settings', settings, '--tcp-port', '0', '--http-port', '0',
    '--ready-file', ready], { stdio: ['ignore', 'ignore', 'pipe'] });
  brokers.add(child);
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; brokers.delete(child); });
  await waitFor('the broker to listen', () => exited || existsSync(ready));
  if (exited) return { error: stderr, exited };
  const text = readFileSync(ready, 'utf8');
  const tcp = Number(/tcp_port=(\d+)/.exec(text)[1]);
  const http = Number(/http_port=(\d+)/.exec(text)[1]);
  return {
    tcp, http, address: `127.0.0.1:${tcp}`, base: `http://127.0.0.1:${http}`,
    async stop() {
      if (exited) fail(`the broker exited early: ${JSON.stringify(exited)}\n${stderr}`);
      child.kill('SIGTERM');
      await waitFor('the broker to exit', () => exited, 20000);
      if (exited.code !== 0) fail(`the broker exited with ${JSON.stringify(exited)}:\n${stderr}`);
    },
  };
}

function msbctl(args) {
  const r = spawnSync(MSBCTL, args, { encoding: 'utf8', timeout: TIMEOUT, input: '' });
  if (r.status !== 0) fail(`msbctl ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

function publish(b, topic, ...messages) {
  msbctl(['publish', '-a', b.address, '-t', topic, '-c', '-H', 'source=browser-test', ...messages]);
}

// A subscriber that runs until the test ends (or until it got @count messages).
function subscribe(b, topic, queue, count = 0) {
  const args = ['subscribe', '-a', b.address, '-t', topic, '-q', queue];
  if (count > 0) args.push('-n', String(count));
  const child = track(spawn(MSBCTL, args, { stdio: ['ignore', 'pipe', 'pipe'] }), `sub ${queue}`);
  let exited = false;
  child.on('exit', () => { exited = true; });
  return { child, exited: () => exited };
}

async function status(b) {
  const r = await fetch(`${b.base}/api/Status`);
  if (r.status !== 200) fail(`/api/Status: ${r.status}`);
  return r.json();
}

async function queuesOf(b, topic) {
  const s = await status(b);
  const q = (s.queues && s.queues[topic]) || null;
  const list = Array.isArray(q) ? q : q && q.queues ? q.queues : [];
  return list.map((x) => x.id);
}

async function shot(page, name) {
  const path = join(LOG_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

async function deleteQueueThroughUi(page, b, topic, queue, withToken) {
  const row = page.locator(`[data-testid="topic-row"][data-topic="${topic}"] [data-testid="queue-row"][data-queue="${queue}"]`);
  await row.waitFor({ timeout: TIMEOUT });
  const del = row.locator('[data-testid="queue-delete"]');
  await del.waitFor({ timeout: TIMEOUT });
  await del.click();
  await page.locator('[data-testid="confirm-ok"]').click({ timeout: TIMEOUT });
  if (withToken) {
    const input = page.locator('[data-testid="token-input"]');
    await input.waitFor({ timeout: TIMEOUT });
    await input.fill(TOKEN);
    await page.locator('[data-testid="token-ok"]').click();
  }
  await waitFor(`queue ${queue} to be gone on the server`, async () => !(await queuesOf(b, topic)).includes(queue));
  await row.waitFor({ state: 'detached', timeout: TIMEOUT });
}

// Topics, queues, a publisher's messages and subscribers: "orders" with a consumed queue
// ("billing", subscriber running) and a permanent queue without subscriber that holds what is
// published ("archive", so the messages stay in memory), and "audit" with no queue.
async function populate(b) {
  publish(b, 'audit', 'audit-0');
  const archive = subscribe(b, 'orders', 'archive', 1);
  const billing = subscribe(b, 'orders', 'billing');
  await waitFor('both subscribers', async () => (await queuesOf(b, 'orders')).length === 2);
  publish(b, 'orders', 'order-0');
  await waitFor('the archive subscriber to take one message and leave', () => archive.exited());
  publish(b, 'orders', 'order-1', '{"order":2,"item":"browser-test-widget"}');
  return billing;
}

async function main() {
  if (!BROKER || !MSBCTL) fail('MSB_BROKER and MSBCTL must name the programs (meson sets them)');
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install Debian's chromium (scripts/install-deps.sh)`);
  mkdirSync(LOG_DIR, { recursive: true });
  console.log(`log folder: ${LOG_DIR}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const b = await startBroker();
    if (b.error) fail(`the broker did not start: ${b.error}`);
    await populate(b);
    // more topics than the first screen asks for (the boot script of index.html: at least 20), so that it is partial
    const bulk = [];
    for (let i = 0; i < 40; i++) bulk.push(`zz-bulk-${String(i).padStart(2, '0')}`);
    for (const name of bulk) {
      const r = await fetch(`${b.base}/api/Topics/Create?topicId=${name}`, { method: 'POST' });
      if (r.status >= 300) fail(`creating ${name}: ${r.status} ${await r.text()}`);
    }
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // what the first screen showed, taken when the page marks its first render
    await page.addInitScript(() => {
      new PerformanceObserver((list) => {
        if (!list.getEntries().some((e) => e.name === 'msb-first-render') || window.__msbFirst) return;
        window.__msbFirst = {
          partial: window.msbPerf.firstPartial,
          rows: [...document.querySelectorAll('[data-testid="topic-row"]')].map((r) => r.dataset.topic),
          queues: [...document.querySelectorAll('[data-testid="topic-row"][data-topic="orders"] [data-testid="queue-row"]')].map((r) => r.dataset.queue),
          count: document.getElementById('count-topics').textContent,
        };
      }).observe({ type: 'mark', buffered: true });
    });
    let firstAnswer = null;
    page.on('response', async (r) => {
      if (r.url().includes('/api/Status/First') && !firstAnswer) firstAnswer = await r.json().catch((e) => ({ error: String(e) }));
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // the live feed: status frames pushed over /api/ws (not the polling fallback)
    let wsFrames = 0;
    page.on('websocket', (ws) => {
      if (ws.url().includes('/api/ws')) ws.on('framereceived', () => { wsFrames++; });
    });
    await page.goto(`${b.base}/`);

    // names and counts
    const orders = page.locator('[data-testid="topic-row"][data-topic="orders"]');
    await orders.waitFor({ timeout: TIMEOUT });
    await page.locator('[data-testid="topic-row"][data-topic="audit"]').waitFor({ timeout: TIMEOUT });
    for (const q of ['billing', 'archive'])
      await orders.locator(`[data-testid="queue-row"][data-queue="${q}"]`).waitFor({ timeout: TIMEOUT });
    const idText = async () => (await orders.locator('[data-testid="topic-message-id"]').textContent()).replace(/\D/g, '');
    await waitFor('the message id of orders to be 3', async () => (await idText()) === '3');
    const archiveText = await orders.locator('[data-testid="queue-row"][data-queue="archive"]').textContent();
    if (!/Sz 2\//.test(archiveText)) fail(`archive should show 2 waiting messages: ${archiveText}`);
    await shot(page, 'topics');

    // the first screen came from /api/Status/First (a part of the topics and a summary of all),
    // showed real rows and the whole namespace's count, and the whole status followed
    await waitFor('the first screen to be recorded', () => page.evaluate(() => !!window.__msbFirst));
    const first = await page.evaluate(() => window.__msbFirst);
    const total = bulk.length + 2;
    if (!firstAnswer || !firstAnswer.summary) fail(`no /api/Status/First answer: ${JSON.stringify(firstAnswer)}`);
    const shown = firstAnswer.topics.items.map((t) => t.id);
    if (firstAnswer.summary.topics !== total || shown.length >= total || shown[0] !== 'audit' || shown[1] !== 'orders')
      fail(`/api/Status/First: ${shown.length} topics (${shown.slice(0, 3)}…) of ${firstAnswer.summary.topics}, not the first of ${total}`);
    if (first.partial !== true) fail(`the first render was not drawn from the first screen: ${JSON.stringify(first)}`);
    if (!first.rows.includes('audit') || !first.rows.includes('orders') || first.rows.some((r) => !shown.includes(r)))
      fail(`the first screen's rows: ${first.rows}`);
    if (!first.queues.includes('billing') || !first.queues.includes('archive')) fail(`the first screen's queues of orders: ${first.queues}`);
    if (first.count !== String(total)) fail(`the first screen counts ${first.count} topics, not ${total}`);
    await waitFor('a render of the whole status', () => page.evaluate(() => window.msbPerf.fullRenderMs !== null));
    const rows = page.locator('[data-testid="topic-row"]');
    await page.locator('#view-topics').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.locator(`[data-testid="topic-row"][data-topic="${bulk[bulk.length - 1]}"]`).waitFor({ timeout: TIMEOUT });
    await page.locator('#view-topics').evaluate((el) => { el.scrollTop = 0; });
    await orders.waitFor({ timeout: TIMEOUT });
    if ((await rows.count()) >= total) fail(`the list is not windowed: ${await rows.count()} rows of ${total}`);

    // live: a publish shows up without a reload
    await page.locator('[data-testid="live-indicator"][data-live="true"]').waitFor({ timeout: TIMEOUT });
    const navigations = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
    publish(b, 'orders', 'order-3');
    await waitFor('the message id of orders to be 4 without a reload', async () => (await idText()) === '4');
    if (navigations.some((u) => !u.includes('#'))) fail(`the page was reloaded: ${navigations}`);
    await waitFor('status frames over the WebSocket', () => wsFrames >= 3);
    const liveText = await page.locator('[data-testid="live-indicator"]').textContent();
    if (/poll/i.test(liveText)) fail(`the UI says it polls while the socket pushes: ${liveText}`);
    await waitFor('a Msg/s figure', async () => /\d/.test(await page.locator('[data-testid="kpi-msgs"]').textContent()));

    // the other views
    await page.locator('[data-testid="nav-sessions"]').click();
    await page.locator('[data-testid="session-row"]').first().waitFor({ timeout: TIMEOUT });
    await shot(page, 'sessions');
    await page.locator('[data-testid="nav-pages"]').click();
    await page.locator('[data-testid="page-row"]').first().waitFor({ timeout: TIMEOUT });
    await shot(page, 'pages');

    // the message browser shows a published message's content
    await page.locator('[data-testid="nav-messages"]').click();
    await page.locator('[data-testid="message-topic"]').selectOption('orders', { timeout: TIMEOUT });
    const msg = page.locator('[data-testid="message-row"][data-id="2"]');
    await msg.waitFor({ timeout: TIMEOUT });
    const content = await msg.locator('[data-testid="message-content"]').textContent();
    if (!content.includes('browser-test-widget')) fail(`message 2 shows ${JSON.stringify(content)}`);
    await shot(page, 'messages');

    // delete-queue through the UI
    await page.locator('[data-testid="nav-topics"]').click();
    await deleteQueueThroughUi(page, b, 'orders', 'archive', false);
    await shot(page, 'topics-after-delete');
    if (pageErrors.length) fail(`errors in the page: ${pageErrors.join('\n')}`);
    await page.close();
    kill(clients);
    await b.stop();

    // with an admin token: the UI asks for it. A build that does not know HttpAdminToken yet
    // ignores the key (with a warning): that shows as a state change without the token.
    const t = await startBroker(`HttpAdminToken: ${TOKEN}\n`);
    if (t.error) fail(`the broker did not start: ${t.error}`);
    await populate(t);
    const probe = await fetch(`${t.base}/api/Queues?topicId=orders&queueId=no-such-queue`, { method: 'DELETE' });
    if (probe.status === 401) {
      const p2 = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await p2.goto(`${t.base}/`);
      await deleteQueueThroughUi(p2, t, 'orders', 'archive', true);
      await shot(p2, 'topics-after-delete-with-token');
      await p2.close();
    } else {
      console.log(`SKIP the admin-token variant: HttpAdminToken is not enforced by this build (${probe.status})`);
    }
    kill(clients);
    await t.stop();
  } finally {
    await browser.close();
  }
  console.log('browser test: all passed');
}

process.on('exit', () => {
  killAll();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
// whatever hangs, the test ends (and takes its processes with it) before meson's timeout
setTimeout(() => {
  console.error('browser test: watchdog: still running after 150 s');
  killAll();
  process.exit(1);
}, 150000).unref();
main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exitCode = 1;
}).finally(killAll);
