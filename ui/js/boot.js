// The first /api/Status request, started by a classic script in the page's <head> before the
// modules are even fetched: loading and compiling them takes a few hundred ms on a small machine,
// and the status (megabytes at a thousand topics) arrives and is parsed meanwhile. live.js takes
// the answer (takeBootStatus) for the namespace the page starts with; any other start fetches its own.
(function () {
  'use strict';
  let ns = 'default';
  try {
    // the namespace main.js starts with: ?ns= of the hash route, else the one kept
    const q = location.hash.indexOf('?');
    ns = (q >= 0 && new URLSearchParams(location.hash.slice(q + 1)).get('ns')) ||
      localStorage.getItem('msb_namespace') || 'default';
  } catch (e) {
    /* no storage: the default namespace */
  }
  const status = fetch('/api/Status', {
    headers: ns !== 'default' ? { ns } : {},
    cache: 'no-store',
  }).then(async (resp) => {
    if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${(await resp.text()).trim()}`);
    const text = await resp.text();
    performance.mark('msb-boot-text'); // bench/ui-render-bench.mjs reads the marks
    // parsed at once, while the modules are still loading, rather than after them
    const t0 = performance.now();
    try {
      return { parsed: JSON.parse(text), parseMs: performance.now() - t0 };
    } catch (e) {
      throw new Error('the status is not JSON: ' + e.message);
    }
  });
  status.catch(() => {}); // live.js reports failures when it takes the promise
  window.msbBoot = { ns, status };
})();
