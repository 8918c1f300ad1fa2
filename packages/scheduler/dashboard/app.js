// The pisched dashboard: draws the view the scheduler streams (server-sent
// events) and sends actions with the session's CSRF token. Text only goes in
// through textContent, never as HTML.
'use strict';

let csrf = '';
let view = null;
// Cards are rebuilt only when their data changes, so a button being pressed or a
// field being typed in is not swapped out by an unrelated update.
let cards = new Map();
let nextCards = new Map();
// Replica counts typed and not sent yet, by service: kept across redraws.
const drafts = new Map();
// A button held down is not swapped out before it is released: the browser sends
// a click only when the press and the release land on the same element, so a
// card redrawn in between (a node's tasks moving while Activate was pressed)
// lost the tap. The redraw waits for the release.
let pressing = false;
let redrawOnRelease = false;
document.addEventListener('pointerdown', (event) => { pressing = event.target instanceof Element && event.target.closest('button') !== null; }, true);
for (const type of ['pointerup', 'pointercancel']) {
  document.addEventListener(type, () => {
    pressing = false;
    // Later in a task of its own: the release's click comes in this one, to the button pressed.
    if (redrawOnRelease) setTimeout(render);
    redrawOnRelease = false;
  }, true);
}

function keyed(key, data, build) {
  const full = `${key}:${JSON.stringify(data)}`;
  const node = cards.get(full) || build();
  nextCards.set(full, node);
  return node;
}

function sync(container, children) {
  const same = children.length === container.children.length && children.every((child, i) => container.children[i] === child);
  if (!same) container.replaceChildren(...children);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (key === 'width') node.style.width = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function bar(label, used, capacity, format) {
  const share = capacity > 0 ? Math.min(1, used / capacity) : 0;
  return [
    el('div', { class: 'muted' }, `${label} ${format(used)} of ${format(capacity)} reserved`),
    el('div', { class: `bar${share > 0.9 ? ' full' : ''}`, role: 'meter', 'aria-label': label, 'aria-valuenow': String(Math.round(share * 100)) }, el('span', { width: `${(share * 100).toFixed(1)}%` })),
  ];
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString();
}

function eventText(event) {
  const a = event.attributes || {};
  const detail = Object.keys(a).sort().filter((k) => k !== 'service').map((k) => `${k}=${a[k]}`).join(', ');
  return `${event.type} ${event.action} ${event.name}${detail ? ` (${detail})` : ''}`;
}

function eventItem(event) {
  return el('li', { 'data-type': event.type, 'data-name': event.name, 'data-time': String(event.time) }, el('time', {}, clock(event.time)), eventText(event));
}

function notice(text, ok) {
  const box = document.getElementById('notice');
  box.textContent = text;
  box.className = `notice${ok ? ' ok' : ''}`;
  box.hidden = false;
}

async function act(path, body) {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body || {}),
      credentials: 'same-origin',
    });
    const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    notice(answer.message || answer.error || `HTTP ${response.status}`, response.ok);
  } catch (error) {
    notice(`could not reach the scheduler: ${error.message}`, false);
  }
}

function serviceCard(service, recentEvents) {
  // Text with a numeric keypad rather than type=number: only text fields expose
  // their selection, which a redraw must carry over (see render()).
  const input = el('input', { type: 'text', inputmode: 'numeric', pattern: '[0-9]*', value: drafts.get(service.name) ?? String(service.desired), 'aria-label': `replicas of ${service.name}`, name: 'replicas', oninput: () => drafts.set(service.name, input.value) });
  const recent = recentEvents.slice().reverse();
  return el('div', { class: 'card service', 'data-service': service.name },
    el('h3', {}, el('span', {}, service.name), el('span', { class: `count ${service.running >= service.desired ? 'running' : 'pending'}`, 'data-role': 'replicas' }, `${service.running}/${service.desired}`)),
    el('div', { class: 'muted' }, `${service.mode} · ${service.image}`),
    service.update ? el('div', { class: service.update.state, 'data-role': 'update' }, `update ${service.update.state}${service.update.message ? `: ${service.update.message}` : ''}`) : null,
    el('div', { class: 'actions' },
      service.mode === 'global' ? null : [input, el('button', { type: 'button', 'data-action': 'scale', onclick: () => {
        drafts.delete(service.name);
        act(`/api/services/${encodeURIComponent(service.name)}/scale`, { replicas: Number(input.value) });
      } }, 'Scale')],
      el('button', { type: 'button', 'data-action': 'rollback', disabled: !service.canRollback, onclick: () => { if (confirm(`Roll ${service.name} back to its previous spec?`)) act(`/api/services/${encodeURIComponent(service.name)}/rollback`); } }, 'Rollback')),
    recent.length ? el('ol', { class: 'events' }, recent.map(eventItem)) : null);
}

function nodeCard(node) {
  const draining = node.availability === 'drain';
  return el('div', { class: 'card node', 'data-node': node.id },
    el('h3', {}, el('span', {}, node.id), el('span', { class: node.state }, node.state)),
    el('div', { class: 'muted' }, [node.hostname, node.address, node.platform].filter(Boolean).join(' · ')),
    node.heat ? el('div', { class: node.hot ? 'hot' : 'muted', 'data-role': 'heat' }, node.heat) : null,
    el('div', { class: node.availability }, node.availability, node.message ? el('span', { class: 'muted' }, ` — ${node.message}`) : null),
    bar('CPU', node.cpus.reserved, node.cpus.capacity, (n) => `${Number(n.toFixed(2))}`),
    bar('Memory', node.memory.reserved, node.memory.capacity, bytes),
    el('ul', { class: 'tasks' }, node.tasks.map((task) => el('li', { 'data-task': task.id }, el('span', {}, task.name), el('span', { class: task.state }, task.state)))),
    el('div', { class: 'actions' },
      el('button', { type: 'button', 'data-action': draining ? 'activate' : 'drain', onclick: () => {
        if (draining || confirm(`Drain ${node.id}? Its tasks move to other nodes.`)) act(`/api/nodes/${encodeURIComponent(node.id)}/availability`, { availability: draining ? 'active' : 'drain' });
      } }, draining ? 'Activate' : 'Drain')));
}

function render() {
  if (!view) return;
  if (pressing) {
    redrawOnRelease = true;
    return;
  }
  // A replica field being typed in keeps its focus, text and selection when its
  // card is redrawn: a keystroke landing just after a redraw must replace the
  // selected text, not be inserted before it ("3" over a selected "1" gave "31").
  const active = document.activeElement;
  const editing = active && active.name === 'replicas'
    ? { service: active.closest('[data-service]').dataset.service, value: active.value, start: active.selectionStart, end: active.selectionEnd, direction: active.selectionDirection }
    : null;
  nextCards = new Map();
  const members = document.getElementById('members');
  members.replaceChildren(...view.members.map((m, i) => el('span', {}, i ? ' · ' : '', m.id === view.leader ? el('b', {}, `${m.id} (leader)`) : `${m.id} ${m.role}${m.reachable ? '' : ' unreachable'}`)));
  if (!view.members.length) members.textContent = `member ${view.self}`;
  sync(document.getElementById('services'), view.services.length
    ? view.services.map((s) => {
      const recent = view.events.filter((e) => (e.type === 'service' && e.name === s.name) || (e.attributes && e.attributes.service === s.name)).slice(-5);
      return keyed(`service:${s.name}`, [s, recent], () => serviceCard(s, recent));
    })
    : [keyed('no-services', null, () => el('p', { class: 'muted' }, 'No services yet.'))]);
  document.getElementById('pending').replaceChildren(...(view.unassigned.length ? [el('h3', {}, 'Waiting for a node'), el('ul', { class: 'tasks card' }, view.unassigned.map((t) => el('li', { 'data-task': t.id }, el('span', {}, t.name), el('span', { class: 'muted' }, t.message || t.state))))] : []));
  sync(document.getElementById('nodes'), view.nodes.length
    ? view.nodes.map((n) => keyed(`node:${n.id}`, n, () => nodeCard(n)))
    : [keyed('no-nodes', null, () => el('p', { class: 'muted' }, 'No nodes have joined.'))]);
  cards = nextCards;
  document.getElementById('events').replaceChildren(...view.events.slice().reverse().map(eventItem));
  if (editing !== null) {
    const input = document.querySelector(`[data-service="${CSS.escape(editing.service)}"] input[name="replicas"]`);
    if (input && document.activeElement !== input) {
      input.value = editing.value;
      input.focus();
      input.setSelectionRange(editing.start, editing.end, editing.direction);
    }
  }
}

function connect() {
  const live = document.getElementById('live');
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live'; });
  source.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live off'; });
  source.addEventListener('view', (message) => { view = JSON.parse(message.data); render(); });
  // Shown at once; the next view (a moment later) redraws everything with it.
  source.addEventListener('event', (message) => document.getElementById('events').prepend(eventItem(JSON.parse(message.data))));
}

async function start() {
  const response = await fetch('/api/session', { credentials: 'same-origin' });
  if (!response.ok) {
    notice('Not logged in: run `pisched dashboard` for a login URL.', false);
    return;
  }
  csrf = (await response.json()).csrf;
  connect();
}

start();
