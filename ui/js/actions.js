// The actions an operator can take, each behind a confirmation dialog (node.md §6.2 calls).
import { h } from './dom.js';
import { api } from './api.js';
import { confirmDialog, toast } from './dialogs.js';
import { num } from './format.js';

let afterAction = () => {};
export function onAfterAction(fn) {
  afterAction = fn;
}

async function run(what, fn) {
  try {
    const result = await fn();
    afterAction();
    return result;
  } catch (e) {
    if (!e.cancelled) toast('error', `${what} failed`, e.status ? `${e.status}: ${e.message}` : e.message);
    return undefined;
  }
}

const code = (text) => h('code', null, text);

// node.md §2.2: 3–63 of a-z 0-9 -, no leading/trailing '-', no '--', not "topics"
export function topicNameProblem(name) {
  if (name.length < 3 || name.length > 63) return 'A topic name has 3 to 63 characters.';
  if (!/^[a-z0-9-]+$/.test(name)) return 'Only lower-case letters, digits and "-".';
  if (name.startsWith('-') || name.endsWith('-')) return 'It may not start or end with "-".';
  if (name.includes('--')) return 'It may not contain "--".';
  if (name === 'topics') return '"topics" is reserved.';
  return null;
}

export async function createTopic() {
  let input;
  const name = await confirmDialog({
    title: 'Create a topic',
    ok: 'Create',
    body: h('div', null,
      h('label', { class: 'field' }, 'Topic name',
        (input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'orders-created' }))),
      h('div', { class: 'hint' }, '3–63 characters: a–z, 0–9 and "-". Creating an existing topic changes nothing.')),
    setup: () => ({
      value: () => input.value.trim(),
      validate: () => topicNameProblem(input.value.trim()),
    }),
  });
  if (name === null) return;
  const ok = await run('Create topic', () => api('POST', '/api/Topics/Create', { params: { topicId: name } }));
  if (ok !== undefined) toast('ok', `Topic ${name} created`);
}

export async function deleteTopic(topic) {
  let later;
  const when = await confirmDialog({
    title: `Delete topic ${topic.id}?`,
    ok: 'Delete topic',
    danger: true,
    body: h('div', null,
      h('p', null, 'The topic is marked deleted at once: publishing and subscribing to it fail. Its data is wiped at the moment chosen; until then it can be restored.'),
      h('div', { class: 'choices', role: 'radiogroup' },
        h('label', null, h('input', { type: 'radio', name: 'when', value: 'later', checked: true }), 'Wipe after 24 h (can be restored until then)'),
        h('label', null, h('input', { type: 'radio', name: 'when', value: 'now' }), 'Wipe now (at the next clean-up, within a minute)'))),
    setup: (body) => {
      later = body.querySelector('input[value="later"]');
      return { value: () => (later.checked ? 'later' : 'now') };
    },
  });
  if (when === null) return;
  const moment = new Date(Date.now() + (when === 'later' ? 24 * 3600 * 1000 : 0)).toISOString();
  const ok = await run('Delete topic', () =>
    api('DELETE', '/api/Topics/Delete', { params: { topicId: topic.id, hardDeleteMoment: moment } }));
  if (ok !== undefined) toast('ok', `Topic ${topic.id} deleted`, when === 'later' ? 'It can be restored for 24 hours.' : '');
}

export async function restoreTopic(topic) {
  const yes = await confirmDialog({
    title: `Restore topic ${topic.id}?`,
    ok: 'Restore',
    body: 'The topic becomes usable again, with its queues and messages.',
  });
  if (yes === null) return;
  const r = await run('Restore topic', () => api('PUT', '/api/Topics/Restore', { params: { topicId: topic.id } }));
  if (r === undefined) return;
  if (r && r.restored === false) toast('error', 'Restore topic failed', `${topic.id} is not deleted, or no longer exists.`);
  else toast('ok', `Topic ${topic.id} restored`);
}

export async function togglePersist(topic) {
  const persist = !topic.persist;
  const yes = await confirmDialog({
    title: persist ? `Persist topic ${topic.id}?` : `Stop persisting topic ${topic.id}?`,
    ok: persist ? 'Persist' : 'Stop persisting',
    danger: !persist,
    body: persist
      ? 'New messages of this topic will be saved to the persistence service. Messages published while it was off are not saved afterwards.'
      : 'New messages of this topic will live in memory only: a restart of the broker loses them. The topic and its queues are still saved.',
  });
  if (yes === null) return;
  const ok = await run('Persist', () => api('POST', '/api/Topics/Persist', { body: { topicId: topic.id, persist } }));
  if (ok !== undefined) toast('ok', persist ? `${topic.id} is persisted` : `${topic.id} is no longer persisted`);
}

export async function deleteQueue(topic, queue) {
  const yes = await confirmDialog({
    title: `Delete queue ${queue.id}?`,
    ok: 'Delete queue',
    danger: true,
    body: h('p', null, 'Queue ', code(queue.id), ' of topic ', code(topic.id), ` and its ${num(queue.size)} waiting messages are removed for good. This cannot be undone.`),
  });
  if (yes === null) return;
  const ok = await run('Delete queue', () =>
    api('DELETE', '/api/Queues', { params: { topicId: topic.id, queueId: queue.id } }));
  if (ok !== undefined) toast('ok', `Queue ${queue.id} deleted`);
}

export async function setMessageId(topic, queue) {
  let input;
  const first = queue.data && queue.data.length ? queue.data[0].fromId : topic.messageId;
  const id = await confirmDialog({
    title: `Move queue ${queue.id}`,
    ok: 'Set message id',
    danger: true,
    body: h('div', null,
      h('p', null, 'Everything below this id counts as consumed; everything from it up to the topic\'s next id ',
        code(num(topic.messageId)), ' waits for delivery again. Messages out for delivery now are not touched.'),
      h('label', { class: 'field' }, 'Message id',
        (input = h('input', { type: 'number', min: '0', step: '1', value: String(first) }))),
      h('div', { class: 'hint' }, `The queue now starts at ${num(first)}. Use ${num(topic.messageId)} to skip the whole backlog.`)),
    setup: () => ({
      value: () => input.value.trim(),
      validate: () => (/^\d+$/.test(input.value.trim()) ? null : 'A message id is a whole number ≥ 0.'),
    }),
  });
  if (id === null) return;
  const ok = await run('Set message id', () =>
    api('POST', '/api/Queues/SetMessageId', { params: { topicId: topic.id, queueId: queue.id, messageId: id } }));
  if (ok !== undefined) toast('ok', `Queue ${queue.id} now starts at ${num(Number(id))}`);
}

export async function kickSession(session) {
  const yes = await confirmDialog({
    title: `Disconnect session ${session.id}?`,
    ok: 'Disconnect',
    danger: true,
    body: h('p', null, 'The connection of ', code(session.name || String(session.id)),
      session.ip ? [' from ', code(session.ip)] : '',
      ' is closed. Messages out for delivery to it go back to their queues. A client that reconnects gets a new session.'),
  });
  if (yes === null) return;
  const ok = await run('Disconnect session', () => api('DELETE', '/api/Sessions', { params: { connectionId: session.id } }));
  if (ok !== undefined) toast('ok', `Session ${session.id} disconnected`);
}
