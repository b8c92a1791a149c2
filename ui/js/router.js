// Hash routes, so that a link names what an operator looks at (docs/ui.md):
//   #/topics                      the topic list
//   #/topics/NAME                 one topic (list scrolled to it, details open)
//   #/topics/NAME/queues/QUEUE    one queue (details with its backlog chart)
//   #/sessions  #/sessions/ID     sessions (one highlighted)
//   #/pages                       the cached pages of every topic
//   #/messages  #/messages/NAME?from=ID   the message browser
// Any route may end in ?ns=NAMESPACE (omitted for the default namespace).

const VIEWS = ['topics', 'sessions', 'pages', 'messages'];

export function parseHash(hash) {
  let s = (hash || '').replace(/^#\/?/, '');
  let params = new URLSearchParams();
  const q = s.indexOf('?');
  if (q >= 0) {
    params = new URLSearchParams(s.slice(q + 1));
    s = s.slice(0, q);
  }
  const parts = s.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (e) {
      return p;
    }
  });
  const view = VIEWS.includes(parts[0]) ? parts[0] : 'topics';
  const route = { view, topic: null, queue: null, session: null, params, ns: params.get('ns') };
  if (view === 'topics' && parts[1] !== undefined) {
    route.topic = parts[1];
    if (parts[2] === 'queues' && parts[3] !== undefined) route.queue = parts.slice(3).join('/');
  } else if (view === 'messages' && parts[1] !== undefined) {
    route.topic = parts[1];
  } else if (view === 'sessions' && parts[1] !== undefined) {
    route.session = parts[1];
  }
  return route;
}

const enc = encodeURIComponent;

export function topicHref(topic, ns) {
  return withNs(`#/topics/${enc(topic)}`, ns);
}

export function queueHref(topic, queue, ns) {
  return withNs(`#/topics/${enc(topic)}/queues/${enc(queue)}`, ns);
}

export function messagesHref(topic, from, ns) {
  let s = topic ? `#/messages/${enc(topic)}` : '#/messages';
  const p = new URLSearchParams();
  if (from !== undefined && from !== null) p.set('from', String(from));
  if (ns && ns !== 'default') p.set('ns', ns);
  const qs = p.toString();
  return qs ? s + '?' + qs : s;
}

export function sessionHref(id, ns) {
  return withNs(`#/sessions/${enc(id)}`, ns);
}

export function viewHref(view, ns) {
  return withNs(`#/${view}`, ns);
}

export function withNs(href, ns) {
  return ns && ns !== 'default' ? `${href}?ns=${enc(ns)}` : href;
}

export function go(href, replace = false) {
  if (location.hash === href) return;
  if (replace) history.replaceState(null, '', href);
  else location.hash = href;
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'));
}
