// The live status feed: a WebSocket to /api/ws?ns=… that pushes the /api/Status JSON once a
// second; when it cannot be opened, drops or goes quiet, GET /api/Status every second instead,
// while trying the socket again now and then. "Live" means the last status arrived less than
// 5 s ago and the last attempt did not fail (node.md §8.1).

const POLL_MS = 1000;
const STALE_MS = 5000;
const WS_RETRY_MIN_MS = 5000;
const WS_RETRY_MAX_MS = 60000;

// The status the boot script of index.html asked for before the modules loaded (a promise of
// { parsed, parseMs }), once, if it is for @ns.
export function takeBootStatus(ns) {
  const boot = globalThis.msbBoot;
  if (!boot || boot.ns !== ns) return null;
  globalThis.msbBoot = null;
  return boot.status;
}

export class Live extends EventTarget {
  constructor() {
    super();
    this.ns = 'default';
    this.ws = null;
    this.mode = 'connecting'; // 'ws' | 'poll' | 'connecting'
    this.lastOk = 0;
    this.failures = 0;
    this.lastError = '';
    this.pollTimer = 0;
    this.polling = false;
    this.wsRetryMs = WS_RETRY_MIN_MS;
    this.wsRetryTimer = 0;
    this.generation = 0; // bumped on namespace change: late answers of the old one are dropped
    this.watchdog = setInterval(() => this.checkStale(), 1000);
  }

  start(ns) {
    this.ns = ns || 'default';
    this.generation++;
    this.stopPolling();
    this.closeWs();
    clearTimeout(this.wsRetryTimer);
    this.lastOk = 0;
    this.failures = 0;
    this.partial = false; // the last status accepted was the first screen only (index.html)
    this.hadWhole = false; // a whole status was accepted since start()
    this.mode = 'connecting';
    this.wsRetryMs = WS_RETRY_MIN_MS;
    this.openWs();
  }

  isLive() {
    return this.lastOk > 0 && Date.now() - this.lastOk < STALE_MS && this.failures === 0;
  }

  // after an action: show its effect without waiting for the next push
  refreshSoon() {
    if (this.mode !== 'ws') {
      this.stopPolling();
      this.pollTimer = setTimeout(() => this.poll(), 150);
    } else {
      setTimeout(() => this.fetchOnce(), 150);
    }
  }

  openWs() {
    let ws;
    try {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      ws = new WebSocket(`${proto}//${location.host}/api/ws?ns=${encodeURIComponent(this.ns)}`);
    } catch (e) {
      this.wsFailed();
      return;
    }
    const gen = this.generation;
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      opened = true;
      this.wsRetryMs = WS_RETRY_MIN_MS;
    };
    ws.onmessage = (e) => {
      if (gen !== this.generation || typeof e.data !== 'string') return;
      if (this.mode !== 'ws') {
        this.mode = 'ws';
        this.stopPolling();
      }
      this.accept(e.data, gen);
    };
    ws.onclose = () => {
      if (gen !== this.generation || this.ws !== ws) return;
      this.ws = null;
      if (!opened) this.wsRetryMs = Math.min(this.wsRetryMs * 2, WS_RETRY_MAX_MS);
      this.wsFailed();
    };
    // until the first frame, poll so that the page fills at once
    this.startPolling();
  }

  closeWs() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onopen = null;
      try {
        ws.close();
      } catch (e) {
        /* already closed */
      }
    }
  }

  wsFailed() {
    this.mode = 'poll';
    this.startPolling();
    clearTimeout(this.wsRetryTimer);
    this.wsRetryTimer = setTimeout(() => {
      if (!this.ws) this.openWs();
    }, this.wsRetryMs);
    this.emitState();
  }

  startPolling() {
    if (!this.polling && !this.pollTimer) this.poll();
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = 0;
  }

  async fetchStatus() {
    const early = takeBootStatus(this.ns);
    if (early) {
      try {
        return await early;
      } catch (e) {
        /* the whole status instead */
      }
    }
    const headers = {};
    if (this.ns !== 'default') headers.ns = this.ns;
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 10000);
    try {
      const resp = await fetch('/api/Status', { headers, cache: 'no-store', signal: ctl.signal });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${(await resp.text()).trim()}`);
      return await resp.text();
    } finally {
      clearTimeout(t);
    }
  }

  async fetchOnce() {
    const gen = this.generation;
    try {
      this.accept(await this.fetchStatus(), gen);
    } catch (e) {
      /* the socket keeps going */
    }
  }

  async poll() {
    this.pollTimer = 0;
    if (this.mode === 'ws') return;
    const gen = this.generation;
    this.polling = true;
    const started = Date.now();
    try {
      const text = await this.fetchStatus();
      if (gen === this.generation) this.accept(text, gen);
    } catch (e) {
      if (gen === this.generation) this.fail(e.message || String(e));
    } finally {
      this.polling = false;
    }
    if (gen !== this.generation || this.mode === 'ws') return;
    // after the first screen (/api/Status/First), the whole status at once
    const wait = this.partial ? 0 : Math.max(0, POLL_MS - (Date.now() - started));
    this.pollTimer = setTimeout(() => this.poll(), wait);
  }

  // @text: the status as text, or as the boot script parsed it ({ parsed, parseMs }; the first
  // screen only when it has a "summary", model.js)
  accept(text, gen) {
    if (gen !== this.generation) return;
    const t0 = performance.now();
    let status;
    if (typeof text !== 'string') {
      status = text.parsed;
      this.parseMs = text.parseMs;
    } else {
      try {
        status = JSON.parse(text);
      } catch (e) {
        this.fail('the status is not JSON: ' + e.message);
        return;
      }
      this.parseMs = performance.now() - t0;
    }
    const partial = !!(status && status.summary);
    // the first screen came after a whole status (the socket was quicker): nothing new in it
    if (partial && this.hadWhole) return;
    this.partial = partial;
    if (!partial) this.hadWhole = true;
    this.lastOk = Date.now();
    this.failures = 0;
    this.lastError = '';
    this.dispatchEvent(new CustomEvent('status', { detail: { status, t0 } }));
    this.emitState();
  }

  fail(message) {
    this.failures++;
    this.lastError = message;
    // three failures in a row: the KPI history no longer means anything
    if (this.failures === 3) this.dispatchEvent(new Event('reset'));
    this.emitState();
  }

  checkStale() {
    // a socket that is open but silent: fall back to polling
    if (this.mode === 'ws' && this.lastOk > 0 && Date.now() - this.lastOk > STALE_MS) {
      this.closeWs();
      this.wsFailed();
    }
    this.emitState();
  }

  emitState() {
    this.dispatchEvent(new Event('state'));
  }
}
