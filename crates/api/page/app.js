// Courier's local page: talks to the node's REST API and WebSocket on the same origin.
// Message content comes from other people, so it only ever reaches the DOM as textContent.
'use strict';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'courier-token'; // sessionStorage: the token goes away with the tab
const RANK = { queued: 0, sent: 1, acked: 2, read: 3, received: 2 }; // a state never moves backwards
// The reactions offered with one click; the node takes any one emoji or short word.
const QUICK_REACTIONS = ['👍', '❤', '😂', '😮', '😢', '🙏'];

const state = {
  token: null,
  open: null,            // alias of the conversation shown
  older: null,           // cursor for the page before the oldest one shown
  msgs: new Map(),       // message id -> its <li>, for the open conversation
  early: new Map(),      // id -> state that arrived over the socket before the POST answered
  blobs: [],             // blob: URLs to revoke when the conversation changes
  online: new Map(),     // alias -> Set of transports it is connected over
  unread: new Set(),     // aliases with messages that arrived while not open
  transports: new Map(), // transport -> its last reported state, for the status line
  ws: null,
  wsDelay: 500,
  wsTimer: null,
  wsOpened: false,       // whether a socket was ever open (so later opens catch up)
  group: null,           // id of the group shown
  groupOlder: null,      // cursor for the group's page before the oldest one shown
  groupPosts: new Map(), // record id -> its <li>, for the open group
  groupUnread: new Set(),// group ids with posts that arrived while not open
  replyTo: null,         // the post the next one replies to
  groupEditing: null,    // our post the group's compose box is editing
  convReplyTo: null,     // the message the next one in the conversation replies to
  editing: null,         // our message the compose box is editing
};

class ApiError extends Error {
  constructor(status, kind, message, field) {
    super(message);
    this.status = status; this.kind = kind; this.field = field;
  }
}

// Every API call carries the bearer token; a failure becomes an ApiError with the server's message.
async function api(path, { method = 'GET', json, body, headers = {} } = {}) {
  const h = new Headers(headers);
  h.set('Authorization', 'Bearer ' + state.token);
  if (json !== undefined) { h.set('Content-Type', 'application/json'); body = JSON.stringify(json); }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The node did not answer: ' + e.message, null);
  }
  if (res.ok) return res;
  let err = { kind: 'http', message: `${res.status} ${res.statusText}`, field: null };
  try { err = { ...err, ...(await res.json()).error }; } catch (_) { /* not JSON: keep the status */ }
  throw new ApiError(res.status, err.kind, err.message, err.field);
}
const getJson = async (path) => (await api(path)).json();
const conv = (alias) => '/v1/conversations/' + encodeURIComponent(alias);
const grp = (id) => '/v1/groups/' + encodeURIComponent(id);

function showError(e) {
  const el = $('error');
  el.textContent = e ? (e.message || String(e)) : '';
  el.hidden = !e;
  // A rejected token anywhere means the session is over.
  if (e && e.status === 401 && state.token) logout(e);
}

// Run an async handler, showing its error instead of leaving an unhandled rejection.
const guard = (fn) => (ev) => { Promise.resolve(fn(ev)).catch(showError); };

function el(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined && text !== null) n.textContent = text;
  return n;
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID only exists in secure contexts; e.g. a plain-http LAN address is not one.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- login ----

async function login(token) {
  state.token = token;
  let me;
  try {
    me = await getJson('/v1/identity');
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
    throw e.status === 401 ? new ApiError(401, e.kind, 'Wrong token: ' + e.message, null) : e;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  showError(null);
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('my-name').textContent = me.name || '';
  $('my-link').textContent = me.link || '';
  connect();
  await Promise.all([loadQr(), loadContacts(), loadGroups(), loadMailbox()]);
}

function logout(why) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.wsTimer);
  if (state.ws) { const ws = state.ws; state.ws = null; ws.close(); }
  state.wsOpened = false; state.wsDelay = 500; state.online.clear(); state.unread.clear(); state.transports.clear();
  status(''); $('transports').textContent = '';
  closeConversation();
  closeGroup();
  state.groupUnread.clear();
  showLogin();
  if (why) showError(why.status === 401 ? new Error('The node rejected the token; log in again.') : why);
}

function showLogin() {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('token').value = '';
  $('token').focus();
}

// The QR endpoint needs the bearer header, which <img src> cannot send: fetch it, show a blob: URL.
async function loadQr() {
  const blob = await (await api('/v1/identity/qr.svg')).blob();
  const img = $('qr');
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
}

// ---- contacts ----

async function loadContacts() {
  const body = await getJson('/v1/contacts');
  const list = Array.isArray(body) ? body : (body.contacts || []);
  $('contacts').replaceChildren(...list.map(contactItem));
}

function contactItem(c) {
  const li = el('li', 'contact');
  li.dataset.alias = c.alias;
  li.tabIndex = 0;
  // The list says who is connected now; the socket's events keep it current from here.
  if (Array.isArray(c.online)) state.online.set(c.alias, new Set(c.online));
  li.append(el('span', 'dot'), el('span', 'alias', c.alias));
  if (c.state && c.state !== 'contact') li.append(el('span', 'contact-state', c.state));
  if (c.verified) li.append(el('span', 'verified', '✓'));
  paintContact(li);
  return li;
}

function contactEl(alias) {
  return [...document.querySelectorAll('.contact')].find((n) => n.dataset.alias === alias);
}

// Online dot, unread mark and selection live in classes, so a refresh of the list keeps them.
function paintContact(li) {
  const alias = li.dataset.alias;
  const via = state.online.get(alias);
  li.classList.toggle('online', !!(via && via.size));
  li.title = via && via.size ? 'online via ' + [...via].join(', ') : '';
  li.classList.toggle('unread', state.unread.has(alias));
  li.classList.toggle('selected', alias === state.open);
}

function setOnline(alias, transport, on) {
  const via = state.online.get(alias) || new Set();
  if (on) via.add(transport || '?'); else via.delete(transport || '?');
  state.online.set(alias, via);
  const li = contactEl(alias);
  if (li) paintContact(li);
}

async function addContact(ev) {
  ev.preventDefault();
  const link = $('contact-link').value.trim(), alias = $('contact-alias').value.trim();
  try {
    await api('/v1/contacts', { method: 'POST', json: { link, alias } });
  } catch (e) {
    if (e.field === 'alias' || e.field === 'link') $('contact-' + e.field).focus();
    throw e;
  }
  $('add-contact').reset();
  showError(null);
  await loadContacts();
}

// ---- mailbox ----

async function loadMailbox() {
  const m = await getJson('/v1/mailbox');
  const own = !m.own ? 'none paired'
    : m.own.reachable ? `yours answers; ${m.own.contacts} contact(s) registered`
    : `yours does not answer (${m.own.problem}); ${m.own.contacts} contact(s) registered`;
  $('mailbox-state').textContent = `${own}; ${m.theirs} contact(s) reached through their own`;
}

async function pairMailbox(ev) {
  ev.preventDefault();
  const link = $('mailbox-link').value.trim();
  try {
    await api('/v1/mailbox', { method: 'POST', json: { link } });
  } catch (e) {
    $('mailbox-link').focus();
    throw e;
  }
  $('pair-mailbox').reset();
  showError(null);
  await loadMailbox();
}

// ---- conversation ----

function closeConversation() {
  state.open = null; state.older = null;
  state.msgs.clear(); state.early.clear();
  setConvReply(null); setEditing(null);
  state.blobs.forEach((u) => URL.revokeObjectURL(u));
  state.blobs = [];
  $('messages').replaceChildren();
  $('messages').removeAttribute('aria-busy');
  $('conversation').hidden = true;
  $('placeholder').hidden = false;
}

async function openConversation(alias) {
  closeConversation();
  closeGroup();
  state.open = alias;
  state.unread.delete(alias);
  document.querySelectorAll('.contact').forEach(paintContact);
  $('peer').textContent = alias;
  $('conversation').hidden = false;
  $('placeholder').hidden = true;
  const box = $('messages');
  box.setAttribute('aria-busy', 'true'); // until the newest page is in (tests wait on it too)
  try {
    await Promise.all([loadPage(alias, null), loadReceipts(alias)]);
  } finally { if (state.open === alias) box.removeAttribute('aria-busy'); }
  markRead();
  $('text').focus();
}

// Loads one page (the newest, or the one before `before`) and puts it above what is shown.
// The newest page goes on top too: socket messages that came in meanwhile are already below.
async function loadPage(alias, before) {
  const q = before ? `?before=${encodeURIComponent(before)}&limit=50` : '?limit=50';
  const page = await getJson(conv(alias) + '/messages' + q);
  if (state.open !== alias) return; // the user moved on while this loaded
  state.older = page.older || null;
  $('older').hidden = !state.older;
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const nodes = page.messages.filter((m) => !state.msgs.has(m.id)).map(messageItem);
  box.prepend(...nodes);
  box.scrollTop = before ? box.scrollHeight - fromBottom : box.scrollHeight; // keep the reader's place
}

// After the socket was down, fetch the newest page again and add what was missed.
async function catchUp() {
  const alias = state.open;
  if (!alias) return;
  const page = await getJson(conv(alias) + '/messages?limit=50');
  if (state.open !== alias) return;
  for (const m of page.messages) {
    if (!state.msgs.has(m.id)) appendMessage(m);
    else if ((m.reactions || []).length || (m.edits || []).length) replaceMessage(m);
    else setState(m.id, m.state);
  }
}

function appendMessage(m) {
  if (state.msgs.has(m.id)) return;
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.append(messageItem(m));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function messageItem(m) {
  const li = el('li', 'message ' + (m.direction === 'outgoing' ? 'outgoing' : 'incoming'));
  li.dataset.id = m.id;
  li.dataset.type = m.content_type;
  state.msgs.set(m.id, li);
  if (m.damaged) li.classList.add('damaged');
  const body = el('div', 'body');
  li.append(body);
  // A reply quotes what it answers, as this page shows it (or says it is not loaded here).
  if (m.relation === 'reply' && m.relates_to) body.append(el('span', 'quote', quoted(m.relates_to)));
  if (m.content_type === 'courier/image') {
    body.append(el('span', 'caption', m.summary));
    if (m.local) showImage(li, m.local);             // our own just-sent file: no need to fetch it
    else if (m.bytes !== null && m.bytes !== undefined) loadImage(li);
    else body.append(el('span', 'progress', 'image on its way…'));
  } else {
    body.append(...textWithEdits(m.summary, m.edits || []));
  }
  if ((m.reactions || []).length) {
    const ours = (r) => r.from === 'outgoing';
    body.append(reactionsRow(m.reactions.map((r) => ({ ours: ours(r), who: ours(r) ? 'you' : 'them', reaction: r.reaction }))));
  }
  const meta = el('div', 'meta');
  meta.append(el('time', null, new Date(m.time_ms).toLocaleString()));
  if (m.damaged) meta.append(el('span', 'note', 'damaged'));
  if (m.direction === 'outgoing') meta.append(el('span', 'state', m.state));
  li.append(meta);
  if (m.relation !== 'delete') li.append(messageActions(m));
  const early = state.early.get(m.id);
  if (early) { state.early.delete(m.id); setState(m.id, early); }
  return li;
}

// A text as it says now (its latest edit), with every earlier version a click away.
function textWithEdits(original, edits) {
  const nodes = [el('span', 'text', edits.length ? edits[edits.length - 1] : original)];
  if (edits.length) {
    const history = el('details', 'history');
    history.append(el('summary', 'edited', 'edited'));
    const earlier = el('ol');
    earlier.append(...[original, ...edits.slice(0, -1)].map((t) => el('li', null, t)));
    history.append(earlier);
    nodes.push(history);
  }
  return nodes;
}

// Reactions, each with who reacted (`ours` marks our own).
function reactionsRow(reactions) {
  const row = el('div', 'reactions');
  for (const r of reactions) {
    const span = el('span', 'reaction ' + (r.ours ? 'ours' : 'theirs'), r.reaction);
    span.title = r.who;
    row.append(span);
  }
  return row;
}

// What a reply quotes: the text of the message it names, if this page shows it.
function quoted(id) {
  const li = state.msgs.get(id);
  return '↩ ' + (li ? (li.querySelector('.text, .caption')?.textContent || '') : 'an earlier message');
}

// Reply and react to any message; edit and delete for everyone our own texts.
function messageActions(m) {
  const text = m.content_type === 'courier/text' || m.content_type === 'courier/reply';
  return actionsFor(m.direction === 'outgoing' && text, true);
}

// React (with a picker of quick reactions), Reply where `reply`, and Edit and Delete for
// everyone where `ownText`.
function actionsFor(ownText, reply) {
  const actions = el('div', 'actions');
  if (reply) actions.append(el('button', 'reply', 'Reply'));
  actions.append(el('button', 'react', 'React'));
  if (ownText) {
    actions.append(el('button', 'edit', 'Edit'), el('button', 'delete', 'Delete for everyone'));
  }
  const picker = el('div', 'picker');
  picker.hidden = true;
  picker.append(...QUICK_REACTIONS.map((e) => el('button', 'emoji', e)));
  actions.append(picker);
  actions.querySelectorAll('button').forEach((b) => { b.type = 'button'; });
  return actions;
}

// A message shown again as it is now (a reaction or an edit changed it), in its place.
function replaceMessage(m) {
  const old = state.msgs.get(m.id);
  if (!old) return;
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  old.replaceWith(messageItem(m));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// A message taken back for everyone: gone from the page too.
function removeMessage(id) {
  const li = state.msgs.get(id);
  if (li) li.remove();
  state.msgs.delete(id);
  if (state.convReplyTo === id) setConvReply(null);
  if (state.editing === id) setEditing(null);
}

// The buttons under each message of a conversation or post of a group, through one listener per
// list: `item` is what they sit in, `reply` and `edit` start a reply or an edit in its compose box,
// `relate` sends a reaction or a deletion, and `confirm` asks for the deletion's second click.
async function onItemAction(ev, { item, reply, edit, relate: send, confirm }) {
  const button = ev.target.closest('button');
  const li = button && button.closest(item);
  if (!li) return;
  const id = li.dataset.id;
  const cls = button.classList;
  if (cls.contains('reply')) reply(id);
  if (cls.contains('react')) { const p = li.querySelector('.picker'); p.hidden = !p.hidden; }
  if (cls.contains('emoji')) {
    li.querySelector('.picker').hidden = true;
    await send('courier/reaction', button.textContent, id);
  }
  if (cls.contains('edit')) edit(id, li.querySelector('.text')?.textContent || '');
  if (cls.contains('delete')) {
    // Two clicks: nothing that cannot be undone happens on one.
    if (!cls.contains('confirm')) {
      cls.add('confirm');
      button.textContent = confirm;
      return;
    }
    await send('courier/delete', '', id);
  }
}

// The conversation's message buttons.
function onMessageAction(ev) {
  if (!state.open) return undefined;
  return onItemAction(ev, {
    item: '.message',
    reply: (id) => { setEditing(null); setConvReply(id); $('text').focus(); },
    edit: (id, text) => { setConvReply(null); setEditing(id); $('text').value = text; $('text').focus(); },
    relate,
    confirm: 'Delete for both of you?',
  });
}

// Sends a relation to message `target`; the node's event shows what it did.
async function relate(content_type, text, target) {
  await api(conv(state.open) + '/messages', {
    method: 'POST', json: { content_type, text, relates_to: target },
    headers: { 'Idempotency-Key': uuid() },
  });
  showError(null);
}

function setConvReply(id) {
  state.convReplyTo = id;
  $('conv-replying').hidden = !id;
  const li = id && state.msgs.get(id);
  $('conv-replying-to').textContent = li ? (li.querySelector('.text, .caption')?.textContent || '') : '';
}

function setEditing(id) {
  state.editing = id;
  $('editing').hidden = !id;
  if (!id) $('text').value = '';
}

// Whether this conversation sends read receipts: the user's choice, else the profile's.
async function loadReceipts(alias) {
  const r = await getJson('/v1/contacts/' + encodeURIComponent(alias) + '/receipts');
  if (state.open !== alias) return;
  showReceipts(r);
}

function showReceipts(r) {
  $('receipts-choice').value = r.chosen;
  $('receipts-now').textContent = r.on ? 'on' : 'off';
}

async function setReceipts() {
  const alias = state.open;
  if (!alias) return;
  const r = await (await api('/v1/contacts/' + encodeURIComponent(alias) + '/receipts', {
    method: 'POST', json: { receipts: $('receipts-choice').value },
  })).json();
  if (state.open === alias) showReceipts(r);
}

// Images need the bearer header too, so they are fetched and shown through blob: URLs.
async function loadImage(li) {
  if (li.dataset.loading) return;
  li.dataset.loading = '1';
  try {
    const blob = await (await api(`/v1/messages/${encodeURIComponent(li.dataset.id)}/content`)).blob();
    if (li.isConnected) showImage(li, blob);
  } catch (e) {
    delete li.dataset.loading;
    const p = li.querySelector('.progress') || li.querySelector('.body').appendChild(el('span', 'progress'));
    p.textContent = 'image not available: ' + e.message;
  }
}

function showImage(li, blob) {
  const url = URL.createObjectURL(blob);
  state.blobs.push(url);
  const img = el('img', 'attachment');
  img.alt = li.querySelector('.caption').textContent;
  img.src = url;
  const save = el('a', 'save', 'Save');
  save.href = url;
  const ext = (blob.type.split('/')[1] || 'bin').replace(/[^a-z0-9]/g, '');
  save.download = `courier-${li.dataset.id.slice(0, 12)}.${ext}`;
  const p = li.querySelector('.progress');
  if (p) p.remove();
  // The image gets its height only once decoded: keep a reader who was at the bottom there.
  const box = $('messages');
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 40) img.onload = () => { box.scrollTop = box.scrollHeight; };
  li.querySelector('.body').append(img, save);
}

function setState(id, s) {
  const li = state.msgs.get(id);
  if (!li) { if (state.open) state.early.set(id, s); return; }
  const node = li.querySelector('.state');
  if (node && (RANK[s] ?? 0) >= (RANK[node.textContent] ?? 0)) node.textContent = s;
}

function markRead() {
  if (!state.open) return;
  api(conv(state.open) + '/read', { method: 'POST' }).catch(showError);
}

// ---- sending ----

// A fresh Idempotency-Key per attempt: the node drops a retried duplicate of the same attempt.
// The button stays disabled while the POST runs, so one click is one message.
async function post(button, { json, body }, content_type, summary, local, relation) {
  const alias = state.open;
  $(button).disabled = true;
  try {
    const res = await api(conv(alias) + '/messages', {
      method: 'POST', json, body, headers: { 'Idempotency-Key': uuid() },
    });
    const r = await res.json(); // { id, fallback, support }
    showError(null);
    if (state.open === alias) {
      appendMessage({ id: r.id, direction: 'outgoing', state: 'queued', content_type, summary,
        time_ms: Date.now(), bytes: local ? local.size : null, damaged: false, local, ...relation });
    }
  } finally {
    $(button).disabled = false;
  }
}

async function sendText(ev) {
  ev.preventDefault();
  const text = $('text').value;
  if (!state.open || !text.trim()) return;
  if (state.editing) {
    // The node's event shows the message with its new text.
    await relate('courier/edit', text, state.editing);
    setEditing(null);
    return;
  }
  const to = state.convReplyTo;
  if (to) {
    await post('send', { json: { content_type: 'courier/reply', text, relates_to: to } },
      'courier/reply', text, null, { relation: 'reply', relates_to: to });
    setConvReply(null);
  } else {
    await post('send', { json: { content_type: 'courier/text', text } }, 'courier/text', text);
  }
  $('text').value = '';
}

async function sendImage() {
  const file = $('image').files[0];
  if (!state.open) return;
  if (!file) throw new Error('Pick an image first.');
  const form = new FormData();
  form.append('content_type', 'courier/image'); // before the file, so the server knows what follows
  form.append('file', file, file.name);
  await post('send-image', { body: form }, 'courier/image', file.name, file);
  $('image').value = '';
}

// ---- groups ----

async function loadGroups() {
  const list = await getJson('/v1/groups');
  $('groups').replaceChildren(...list.map(groupItem));
}

function groupItem(g) {
  const li = el('li', 'group');
  li.dataset.id = g.id;
  li.tabIndex = 0;
  li.append(el('span', 'name', g.name));
  if (g.standing !== 'member') li.append(el('span', 'standing', g.standing));
  paintGroup(li);
  return li;
}

function groupEl(id) {
  return [...document.querySelectorAll('.group')].find((n) => n.dataset.id === id);
}

function paintGroup(li) {
  li.classList.toggle('unread', state.groupUnread.has(li.dataset.id));
  li.classList.toggle('selected', li.dataset.id === state.group);
}

function closeGroup() {
  state.group = null; state.groupOlder = null; state.groupPosts.clear();
  setReply(null); setGroupEditing(null);
  $('group-posts').replaceChildren();
  $('group-posts').removeAttribute('aria-busy');
  $('group').hidden = true;
  document.querySelectorAll('.group').forEach(paintGroup);
}

async function openGroup(id) {
  closeConversation();
  closeGroup();
  state.group = id;
  state.groupUnread.delete(id);
  document.querySelectorAll('.contact').forEach(paintContact);
  document.querySelectorAll('.group').forEach(paintGroup);
  $('group').hidden = false;
  $('placeholder').hidden = true;
  const box = $('group-posts');
  box.setAttribute('aria-busy', 'true'); // until the newest page is in (tests wait on it too)
  try {
    await refreshGroup();
    await loadGroupPage(id, null);
  } finally { if (state.group === id) box.removeAttribute('aria-busy'); }
}

// The group's name, members and what the user may do in it, as the node says now.
async function refreshGroup() {
  const id = state.group;
  if (!id) return;
  const [g, members] = await Promise.all([getJson(grp(id)), getJson(grp(id) + '/members')]);
  if (state.group !== id) return;
  $('group-title').textContent = g.name;
  const current = members.filter((m) => m.state === 'member').map((m) => m.name + (m.us ? ' (you)' : ''));
  $('group-members').textContent = g.standing === 'member'
    ? current.join(', ') : `${g.standing}${g.invited_by ? ', invited by ' + g.invited_by : ''}`;
  const member = g.standing === 'member';
  $('group-invitation').hidden = g.standing !== 'invited';
  $('group-writing').hidden = !member;
  $('group-invite').hidden = !(member && g.ours);
  $('dissolve-group').hidden = !(member && g.ours);
  $('leave-group').hidden = !(member && !g.ours);
  $('group-timer').hidden = !g.timer.seconds;
  $('group-timer').textContent = `🕓 posts disappear ${g.timer.timer} after they reach each member`;
  $('group-timer-form').hidden = !(member && g.ours);
}

async function setGroupTimer(ev) {
  ev.preventDefault();
  const timer = $('group-timer-choice').value;
  await api(grp(state.group) + '/timer', { method: 'POST', json: { timer } });
  showError(null);
  await Promise.all([refreshGroup(), groupCatchUp()]);
}

async function loadGroupPage(id, before) {
  const q = before ? `?before=${encodeURIComponent(before)}&limit=50` : '?limit=50';
  const page = await getJson(grp(id) + '/posts' + q);
  if (state.group !== id) return;
  state.groupOlder = page.older || null;
  $('group-older').hidden = !state.groupOlder;
  const box = $('group-posts');
  const fromBottom = box.scrollHeight - box.scrollTop;
  box.prepend(...page.entries.filter((e) => !state.groupPosts.has(e.id)).map(groupEntryItem));
  box.scrollTop = before ? box.scrollHeight - fromBottom : box.scrollHeight;
}

async function groupCatchUp() {
  const id = state.group;
  if (!id) return;
  const page = await getJson(grp(id) + '/posts?limit=50');
  if (state.group === id) page.entries.forEach(appendGroupEntry);
}

function appendGroupEntry(e) {
  if (state.groupPosts.has(e.id)) return;
  const box = $('group-posts');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.append(groupEntryItem(e));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// What members wrote (names, summaries) only ever reaches the DOM as textContent.
function groupEntryItem(e) {
  if (e.kind !== 'post') {
    const said = {
      added: e.member === e.author ? `${e.author} made the group` : `${e.author} added ${e.member}`,
      removed: `${e.author} removed ${e.member}`,
      left: `${e.author} left`,
      dissolved: `${e.author} dissolved the group`,
      timer: e.timer === 'off' ? `${e.author} turned disappearing posts off`
        : `${e.author} set posts to disappear ${e.timer} after they arrive`,
    }[e.kind] || e.kind;
    const li = el('li', 'change', said);
    li.dataset.id = e.id;
    state.groupPosts.set(e.id, li);
    return li;
  }
  const li = el('li', 'post' + (e.ours ? ' ours' : ''));
  li.dataset.id = e.id;
  state.groupPosts.set(e.id, li);
  li.append(el('span', 'author', e.author));
  if (e.parent) {
    const quoted = state.groupPosts.get(e.parent);
    const text = quoted ? quoted.querySelector('.text, .caption')?.textContent : null;
    li.append(el('span', 'quote', '↩ ' + (text || 'an earlier post')));
  }
  if (e.content_type === 'courier/image') {
    li.append(el('span', 'caption', e.summary));
    loadGroupImage(li);
  } else {
    li.append(...textWithEdits(e.summary, e.edits || []));
  }
  if ((e.reactions || []).length) {
    li.append(reactionsRow(e.reactions.map((r) => ({ ours: r.ours, who: r.author, reaction: r.reaction }))));
  }
  const meta = el('div', 'meta');
  meta.append(el('time', null, new Date(e.time_ms).toLocaleString()));
  const reply = el('button', 'reply', 'Reply');
  reply.type = 'button';
  meta.append(reply);
  li.append(meta);
  if (e.content_type !== 'courier/delete') {
    li.append(actionsFor(e.ours && (e.content_type === 'courier/text' || e.content_type === 'courier/reply'), false));
  }
  return li;
}

// A group's post shown again as it is now (a reaction or an edit changed it), in its place.
function replaceGroupEntry(e) {
  const old = state.groupPosts.get(e.id);
  if (old) old.replaceWith(groupEntryItem(e));
}

// The group's post buttons (Reply answers in the post's thread).
function onGroupAction(ev) {
  if (!state.group) return undefined;
  return onItemAction(ev, {
    item: '.post',
    reply: (id) => { setGroupEditing(null); setReply(id); $('group-text').focus(); },
    edit: (id, text) => { setReply(null); setGroupEditing(id); $('group-text').value = text; $('group-text').focus(); },
    relate: relateInGroup,
    confirm: 'Delete for every member?',
  });
}

// Reacts to, edits or deletes a post of the open group; the node's event shows what it did.
async function relateInGroup(content_type, text, target) {
  await api(grp(state.group) + '/posts', { method: 'POST', json: { content_type, text, relates_to: target } });
  showError(null);
}

function setGroupEditing(id) {
  state.groupEditing = id;
  $('group-editing').hidden = !id;
  if (!id) $('group-text').value = '';
}

async function loadGroupImage(li) {
  const id = state.group;
  try {
    const path = `${grp(id)}/posts/${encodeURIComponent(li.dataset.id)}/content`;
    const blob = await (await api(path)).blob();
    if (!li.isConnected) return;
    const url = URL.createObjectURL(blob);
    state.blobs.push(url);
    const img = el('img', 'attachment');
    img.alt = li.querySelector('.caption').textContent;
    img.src = url;
    li.querySelector('.caption').after(img);
  } catch (e) {
    li.append(el('span', 'progress', 'image not available: ' + e.message));
  }
}

function setReply(id) {
  state.replyTo = id;
  $('replying').hidden = !id;
  const li = id && state.groupPosts.get(id);
  $('replying-to').textContent = li ? (li.querySelector('.text, .caption')?.textContent || '') : '';
}

async function createGroup(ev) {
  ev.preventDefault();
  const name = $('group-name').value.trim(), join_as = $('group-as').value.trim();
  const r = await (await api('/v1/groups', { method: 'POST', json: { name, join_as } })).json();
  $('new-group').reset();
  showError(null);
  await loadGroups();
  await openGroup(r.id);
}

async function postToGroup(button, { json, body }) {
  const id = state.group;
  const q = state.replyTo ? '?reply_to=' + encodeURIComponent(state.replyTo) : '';
  $(button).disabled = true;
  try {
    await api(grp(id) + '/posts' + q, { method: 'POST', json, body });
    showError(null);
    setReply(null);
    // Our own post shows from the node's window, as the members see it.
    if (state.group === id) await groupCatchUp();
  } finally {
    $(button).disabled = false;
  }
}

async function groupText(ev) {
  ev.preventDefault();
  const text = $('group-text').value;
  if (!state.group || !text.trim()) return;
  if (state.groupEditing) {
    await relateInGroup('courier/edit', text, state.groupEditing);
    setGroupEditing(null);
    return;
  }
  await postToGroup('group-send', { json: { content_type: 'courier/text', text } });
  $('group-text').value = '';
}

async function groupImage() {
  const file = $('group-image').files[0];
  if (!state.group) return;
  if (!file) throw new Error('Pick an image first.');
  const form = new FormData();
  form.append('content_type', 'courier/image');
  form.append('file', file, file.name);
  await postToGroup('group-send-image', { body: form });
  $('group-image').value = '';
}

async function inviteToGroup(ev) {
  ev.preventDefault();
  const alias = $('invite-alias').value.trim();
  await api(grp(state.group) + '/invitations', { method: 'POST', json: { alias } });
  $('group-invite').reset();
  showError(null);
}

async function answerGroup(join) {
  const join_as = join ? $('join-as').value.trim() : null;
  if (join && !join_as) throw new Error('Choose the name the members will see you by.');
  await api(grp(state.group) + '/answer', { method: 'POST', json: { join_as } });
  showError(null);
  await Promise.all([loadGroups(), refreshGroup()]);
}

async function groupStep(step) {
  await api(grp(state.group) + '/' + step, { method: 'POST' });
  showError(null);
  await Promise.all([loadGroups(), refreshGroup()]);
}

// ---- live updates ----

function connect() {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/ws';
  const ws = new WebSocket(url);
  state.ws = ws;
  let steady;
  ws.onopen = () => {
    ws.send(state.token); // the first frame authenticates: browsers cannot set headers on a WebSocket
    status('live');
    // Only a socket that stays up resets the backoff (a rejected token closes it at once).
    steady = setTimeout(() => { state.wsDelay = 500; }, 3000);
    // Events sent while we were away are lost: fetch what changed.
    if (state.wsOpened) {
      loadContacts().catch(showError); catchUp().catch(showError);
      loadGroups().catch(showError); groupCatchUp().catch(showError);
    }
    state.wsOpened = true;
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (_) { return; }
    onEvent(m);
  };
  ws.onclose = () => {
    clearTimeout(steady);
    if (state.ws !== ws) return; // logged out, or replaced
    state.ws = null;
    const delay = state.wsDelay;
    state.wsDelay = Math.min(delay * 2, 30000);
    status(`offline, retrying in ${Math.round(delay / 1000)} s`);
    state.wsTimer = setTimeout(() => { if (state.token) connect(); }, delay);
  };
}

function onEvent(m) {
  switch (m.type) {
    case 'message_received':
      // An invitation into a group comes as a message: the group list shows it too.
      if (m.message.content_type === 'courier/group-invite') loadGroups().catch(showError);
      if (m.contact === state.open) { appendMessage(m.message); markRead(); } else {
        state.unread.add(m.contact);
        const li = contactEl(m.contact);
        if (li) paintContact(li);
      }
      break;
    case 'message_sent':
    case 'message_acked':
    case 'message_read':
      if (m.contact === state.open) setState(m.id, m.type.slice('message_'.length));
      break;
    case 'message_reacted':
    case 'message_edited':
      if (m.contact === state.open) replaceMessage(m.message);
      break;
    case 'message_deleted':
      if (m.contact === state.open) removeMessage(m.id);
      break;
    case 'contact_added':
    case 'contact_pending': loadContacts().catch(showError); break;
    case 'contact_connected': setOnline(m.alias, m.transport, true); break;
    case 'contact_disconnected': setOnline(m.alias, m.transport, false); break;
    case 'transport_state': {
      // The shape is the node's business: show its values, one entry per transport.
      const t = m.transport, words = t && typeof t === 'object' ? Object.values(t).map(String) : [String(t)];
      state.transports.set(words[0], words.join(' '));
      $('transports').textContent = [...state.transports.values()].join(' · ');
      break;
    }
    case 'attachment_progress': {
      const li = m.contact === state.open && state.msgs.get(m.id);
      if (!li || li.querySelector('.attachment')) break;
      if (m.received >= m.total) { loadImage(li); break; }
      const p = li.querySelector('.progress') || li.querySelector('.body').appendChild(el('span', 'progress'));
      p.textContent = `receiving ${Math.floor((100 * m.received) / (m.total || 1))} %`;
      break;
    }
    case 'group_post_received':
      if (m.group === state.group) appendGroupEntry(m.post); else {
        state.groupUnread.add(m.group);
        const li = groupEl(m.group);
        if (li) paintGroup(li);
      }
      break;
    case 'group_post_changed':
      if (m.group === state.group) replaceGroupEntry(m.post);
      break;
    case 'group_post_deleted':
      if (m.group === state.group) {
        const li = state.groupPosts.get(m.id);
        if (li) li.remove();
        state.groupPosts.delete(m.id);
        if (state.groupEditing === m.id) setGroupEditing(null);
        if (state.replyTo === m.id) setReply(null);
      }
      break;
    case 'group_membership':
      loadGroups().catch(showError);
      if (m.group === state.group) { appendGroupEntry(m.change); refreshGroup().catch(showError); }
      break;
    default: break; // newer nodes may send more kinds; ignore what we do not know
  }
}

function status(text) { $('status').textContent = text; }

// ---- wiring ----

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', guard((ev) => {
    ev.preventDefault();
    return login($('token').value);
  }));
  $('logout').addEventListener('click', () => logout(null));
  $('copy-link').addEventListener('click', guard(() => navigator.clipboard.writeText($('my-link').textContent)));
  $('add-contact').addEventListener('submit', guard(addContact));
  $('pair-mailbox').addEventListener('submit', guard(pairMailbox));
  const pick = (ev) => {
    const li = ev.target.closest('.contact');
    if (li && (ev.type === 'click' || ev.key === 'Enter')) openConversation(li.dataset.alias).catch(showError);
  };
  $('contacts').addEventListener('click', pick);
  $('contacts').addEventListener('keydown', pick);
  const pickGroup = (ev) => {
    const li = ev.target.closest('.group');
    if (li && (ev.type === 'click' || ev.key === 'Enter')) openGroup(li.dataset.id).catch(showError);
  };
  $('groups').addEventListener('click', pickGroup);
  $('groups').addEventListener('keydown', pickGroup);
  $('new-group').addEventListener('submit', guard(createGroup));
  $('group-compose').addEventListener('submit', guard(groupText));
  $('group-send-image').addEventListener('click', guard(groupImage));
  $('group-invite').addEventListener('submit', guard(inviteToGroup));
  $('group-timer-form').addEventListener('submit', guard(setGroupTimer));
  $('accept-group').addEventListener('click', guard(() => answerGroup(true)));
  $('decline-group').addEventListener('click', guard(() => answerGroup(false)));
  $('leave-group').addEventListener('click', guard(() => groupStep('leave')));
  $('dissolve-group').addEventListener('click', guard(() => groupStep('dissolve')));
  $('cancel-reply').addEventListener('click', () => setReply(null));
  $('group-older').addEventListener('click', guard(() => state.group && state.groupOlder && loadGroupPage(state.group, state.groupOlder)));
  $('group-posts').addEventListener('click', guard(onGroupAction));
  $('cancel-group-edit').addEventListener('click', () => setGroupEditing(null));
  $('older').addEventListener('click', guard(() => state.open && state.older && loadPage(state.open, state.older)));
  $('compose').addEventListener('submit', guard(sendText));
  $('messages').addEventListener('click', guard(onMessageAction));
  $('conv-cancel-reply').addEventListener('click', () => setConvReply(null));
  $('cancel-edit').addEventListener('click', () => setEditing(null));
  $('receipts-choice').addEventListener('change', guard(setReceipts));
  $('send-image').addEventListener('click', guard(sendImage));
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) login(saved).catch(showError); else showLogin();
});
