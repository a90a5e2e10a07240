// Drives the node's web page in headless Chromium, for the Rust end-to-end tests. Two stories:
//   node page.mjs --url http://127.0.0.1:PORT/ --token T --contact ALIAS --text TEXT --reply TEXT --screenshot PATH
//   node page.mjs --story group --url … --token T --contact ALIAS --group NAME --text TEXT --reply TEXT --screenshot PATH
//   node page.mjs --story relations --url … --token T --contact ALIAS --text TEXT --reply TEXT --screenshot PATH
// The relations story: opens ALIAS, turns read receipts on through the page (`RECEIPTS ON`), waits
// for their message REPLY to arrive live (`SAW MESSAGE`; the page reads it, so they are told),
// answers it with TEXT through its Reply button (`REPLIED`, quoting it), reacts 👍 to it
// (`REACTED`), edits the answer to "TEXT, at nine" (`EDITED`), sends "take this back" and deletes it
// for everyone (`DELETED`), then waits for ALIAS's ❤ on the answer and for the answer to show read
// (`SAW THEIR REACTION`, `SAW READ`).
// The group story: logs in, makes the group NAME, invites ALIAS through the page (`INVITED`), waits
// (without reloading) for a post of ALIAS's containing REPLY (`SAW POST`), answers it with TEXT
// through its Reply button and waits until the page shows that post quoting it (`POSTED`).
// The conversation story (the default):
// Logs in, opens ALIAS, sends TEXT, prints `SENT` once it shows; then waits (without reloading) for an
// incoming message containing REPLY, which only the WebSocket can bring, and prints `SAW REPLY`. With
// --image FILE it also sends that image (`SENT IMAGE`); with --save FILE it then waits for an incoming
// image and saves it through its Save link (`SAVED BYTES`). With --mailbox LINK it first pairs the
// node with that mailbox through the page's form and waits until the page says it answers
// (`PAIRED MAILBOX`). It screenshots last.
// Any failure prints `FAIL: reason` (stdout), the page's console errors and what it showed (stderr),
// screenshots if it can, and exits 1; bad arguments exit 2. Fails too on CSP violations or uncaught
// exceptions in the page. Chromium: $CHROMIUM or /usr/bin/chromium, never a downloaded one.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    story: { type: 'string', default: 'conversation' },
    group: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    contact: { type: 'string' },
    text: { type: 'string' },
    reply: { type: 'string' },
    screenshot: { type: 'string' },
    image: { type: 'string' },
    save: { type: 'string' },
    mailbox: { type: 'string' },
    'timeout-ms': { type: 'string', default: '60000' },
  },
});
const needed = ['url', 'token', 'contact', 'text', 'reply', 'screenshot'];
if (opt.story === 'group') needed.push('group');
else if (!['conversation', 'relations'].includes(opt.story)) needed.push('a --story of conversation, relations or group');
for (const k of needed) {
  if (!opt[k]) {
    console.error(`missing --${k}`);
    process.exit(2);
  }
}
const timeoutMs = Number(opt['timeout-ms']);
if (!(timeoutMs > 0)) {
  console.error('--timeout-ms wants a positive number of milliseconds');
  process.exit(2);
}
const deadline = Date.now() + timeoutMs;
const left = () => Math.max(1, deadline - Date.now());

const consoleErrors = []; // every console error, printed on failure
const fatal = [];         // CSP violations and uncaught exceptions: these fail the run
const profile = mkdtempSync(join(tmpdir(), 'courier-chromium-'));
let context;
let page;

class Failure extends Error {}

// Fails at once if the page reported something fatal since the last step.
function checkFatal(step) {
  if (fatal.length) throw new Failure(`${step}: the page reported ${fatal.join(' | ')}`);
}

// Waits until the page-side check `what` holds, or the page shows its error line, or time runs out.
// (The checks are one plain function: the page's CSP forbids building code from strings.)
async function waitFor(step, what, arg) {
  const check = ({ what, arg }) => {
    const err = document.getElementById('error');
    if (err && !err.hidden && err.textContent) return { error: err.textContent };
    const $ = (id) => document.getElementById(id);
    const all = (sel) => [...document.querySelectorAll(sel)];
    let ok = false;
    if (what === 'contact') ok = all('.contact').some((n) => n.dataset.alias === arg);
    if (what === 'mailbox') ok = $('mailbox-state').textContent.includes(arg);
    if (what === 'opened') {
      ok = !$('conversation').hidden && $('peer').textContent === arg && !$('messages').hasAttribute('aria-busy');
    }
    if (what === 'message') {
      // Only a message that was not shown before counts, and it must hold the text.
      ok = all('.message.' + arg.dir).some((n) => !arg.before.includes(n.dataset.id)
        && (n.querySelector('.text, .caption') || n).textContent.includes(arg.text));
    }
    // The form clears once the node took the invitation.
    if (what === 'invited') ok = $('invite-alias').value === '';
    // The group's timer line, and the change line the creator's timer record shows as.
    if (what === 'timer') {
      ok = !$('group-timer').hidden && $('group-timer').textContent.includes(arg)
        && all('.change').some((n) => n.textContent.includes('set posts to disappear ' + arg));
    }
    if (what === 'group') {
      ok = !$('group').hidden && $('group-title').textContent === arg && !$('group-posts').hasAttribute('aria-busy');
    }
    if (what === 'post') {
      // A post not shown before, by that author, holding the text (and quoting, if asked).
      ok = all('.post').some((n) => !arg.before.includes(n.dataset.id)
        && n.querySelector('.author').textContent === arg.author
        && (n.querySelector('.text, .caption') || n).textContent.includes(arg.text)
        && (!arg.quote || (n.querySelector('.quote')?.textContent || '').includes(arg.quote)));
    }
    // A conversation's effective read receipts, as its header says.
    if (what === 'receipts') ok = $('receipts-now').textContent === arg;
    // Our message holding the text, quoting the other.
    if (what === 'quoted') {
      ok = all('.message.outgoing').some((n) => n.querySelector('.text')?.textContent === arg.text
        && (n.querySelector('.quote')?.textContent || '').includes(arg.quote));
    }
    // The message (or post) holding the text shows that reaction from that side (`ours` or `theirs`).
    if (what === 'reaction') {
      ok = all(arg.within || '.message').some((n) => n.querySelector('.text')?.textContent === arg.text
        && [...n.querySelectorAll('.reaction.' + arg.side)].some((r) => r.textContent === arg.emoji));
    }
    // Our message shows its new text, marked edited.
    if (what === 'edited') {
      ok = all('.message.outgoing').some((n) => n.querySelector('.text')?.textContent === arg
        && n.querySelector('.edited'));
    }
    // No message or post shows the text any more.
    if (what === 'gone') ok = !all('.message .text, .post .text').some((n) => n.textContent === arg);
    // A post by that author says the text now, marked edited.
    if (what === 'edited post') {
      ok = all('.post').some((n) => n.querySelector('.author')?.textContent === arg.author
        && n.querySelector('.text')?.textContent === arg.text && n.querySelector('.edited'));
    }
    // Our message holding the text is in that state.
    if (what === 'state') {
      ok = all('.message.outgoing').some((n) => n.querySelector('.text')?.textContent === arg.text
        && n.querySelector('.state')?.textContent === arg.state);
    }
    if (what === 'image') {
      // A new message of that direction whose image has loaded.
      ok = all('.message.' + arg.dir).some((n) => !arg.before.includes(n.dataset.id)
        && [...n.querySelectorAll('img.attachment')].some((i) => i.complete && i.naturalWidth > 0));
    }
    return ok ? { ok } : null;
  };
  let r;
  try {
    r = await (await page.waitForFunction(check, { what, arg }, { timeout: left(), polling: 100 })).jsonValue();
  } catch (e) {
    throw new Failure(`${step}: timed out (${e.message.split('\n')[0]})`);
  }
  if (r.error) throw new Failure(`${step}: the page shows the error "${r.error}"`);
  checkFatal(step);
}

// The ids of the messages shown now: what we wait for must be new, not an old message with the same text.
const shownIds = () => page.$$eval('.message', (ns) => ns.map((n) => n.dataset.id));
// The same for a group's posts.
const shownPosts = () => page.$$eval('.post', (ns) => ns.map((n) => n.dataset.id));

async function run() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1100, height: 760 },
    timeout: left(),
  });
  page = context.pages()[0] || (await context.newPage());
  // The CSP reports land in the console as "Refused to …"; this listener catches the rest.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`));
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    consoleErrors.push(t);
    if (/Content Security Policy|CSP violation/i.test(t)) fatal.push(`CSP: ${t}`);
  });
  page.on('pageerror', (e) => {
    consoleErrors.push(`uncaught: ${e.message}`);
    fatal.push(`uncaught exception: ${e.message}`);
  });
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations += 1; });

  await page.goto(opt.url, { timeout: left() });
  await page.locator('#token').fill(opt.token, { timeout: left() });
  await page.locator('#login').click({ timeout: left() });

  await waitFor('log in and list contacts', 'contact', opt.contact);
  const stories = { group: groupStory, relations: relationsStory, conversation: conversationStory };
  await stories[opt.story](() => navigations);
  await shoot();
  checkFatal('at the end');
}

// A group made and used through the page; the other member answers through their own API.
async function groupStory(navigations) {
  await page.locator('#group-name').fill(opt.group, { timeout: left() });
  await page.locator('#group-as').fill('alice', { timeout: left() });
  await page.locator('#create-group').click({ timeout: left() });
  await waitFor('make the group and open it', 'group', opt.group);
  await page.locator('#invite-alias').fill(opt.contact, { timeout: left() });
  await page.locator('#invite').click({ timeout: left() });
  await waitFor('invite them', 'invited');
  console.log('INVITED');
  const navigated = navigations();
  const before = await shownPosts();
  await waitFor('see their post', 'post', { before, author: opt.contact, text: opt.reply });
  if (navigations() !== navigated) throw new Failure('the page reloaded: the post did not come over the WebSocket');
  console.log('SAW POST');
  const theirs = page.locator('.post', { hasText: opt.reply }).last();
  await theirs.locator('.reply').click({ timeout: left() });
  await page.locator('#group-text').fill(opt.text, { timeout: left() });
  await page.locator('#group-send').click({ timeout: left() });
  await waitFor('post the answer', 'post', { before, author: 'alice', text: opt.text, quote: opt.reply });
  console.log('POSTED');
  // Posts disappear a day after they reach each member from now on; the next one is sealed.
  await page.locator('#group-timer-choice').selectOption('1d', { timeout: left() });
  await page.locator('#set-group-timer').click({ timeout: left() });
  await waitFor('set the group\'s timer', 'timer', '1 day');
  await page.locator('#group-text').fill('kept for a day', { timeout: left() });
  await page.locator('#group-send').click({ timeout: left() });
  await waitFor('post under the timer', 'post', { before, author: 'alice', text: 'kept for a day' });
  console.log('TIMER SET');
  // A 👍 to their post, their edit of it seen live, and ours taken back for every member.
  const theirs2 = page.locator('.post', { hasText: opt.reply }).first();
  await theirs2.locator('button.react').click({ timeout: left() });
  await theirs2.locator('button.emoji', { hasText: '👍' }).click({ timeout: left() });
  await waitFor('react to their post', 'reaction', { text: opt.reply, side: 'ours', emoji: '👍', within: '.post' });
  console.log('REACTED');
  await waitFor('see their edit', 'edited post', { author: opt.contact, text: `${opt.reply} (the north one)` });
  console.log('SAW EDIT');
  const kept = page.locator('.post.ours', { hasText: 'kept for a day' }).last();
  await kept.locator('button.delete').click({ timeout: left() });
  await kept.locator('button.delete.confirm').click({ timeout: left() });
  await waitFor('delete our post for every member', 'gone', 'kept for a day');
  console.log('DELETED');
}

// A conversation with one contact: texts, an image, a reply over the WebSocket, a download.
async function conversationStory(navigations) {
  const contact = page.locator(`.contact[data-alias=${JSON.stringify(opt.contact)}]`);
  if (opt.mailbox) {
    await page.locator('#mailbox-link').fill(opt.mailbox, { timeout: left() });
    await page.locator('#pair').click({ timeout: left() });
    await waitFor('pair the mailbox', 'mailbox', 'yours answers; 1 contact(s) registered');
    console.log('PAIRED MAILBOX');
  }
  await contact.click({ timeout: left() });
  await waitFor('open the conversation and load its messages', 'opened', opt.contact);
  const before = await shownIds();

  await page.locator('#text').fill(opt.text, { timeout: left() });
  await page.locator('#send').click({ timeout: left() });
  await waitFor('send the message', 'message', { before, dir: 'outgoing', text: opt.text });
  console.log('SENT');

  if (opt.image) {
    const beforeImage = await shownIds();
    await page.locator('#image').setInputFiles(opt.image, { timeout: left() });
    await page.locator('#send-image').click({ timeout: left() });
    await waitFor('send the image', 'image', { before: beforeImage, dir: 'outgoing' });
    console.log('SENT IMAGE');
  }

  const navigated = navigations();
  await waitFor('see the reply', 'message', { before, dir: 'incoming', text: opt.reply });
  if (navigations() !== navigated) throw new Failure('the page reloaded: the reply did not come over the WebSocket');
  console.log('SAW REPLY');

  if (opt.save) {
    // The other side sends an image next; the page shows it, and its Save link downloads it.
    await waitFor('see the image', 'image', { before, dir: 'incoming' });
    const link = page.locator('.message.incoming a.save').last();
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: left() }),
      link.click({ timeout: left() }),
    ]);
    await download.saveAs(opt.save);
    console.log(`SAVED ${statSync(opt.save).size}`);
  }
}

// Replies, reactions, edits, delete for everyone and read receipts, through the page.
async function relationsStory(navigations) {
  await page.locator(`.contact[data-alias=${JSON.stringify(opt.contact)}]`).click({ timeout: left() });
  await waitFor('open the conversation', 'opened', opt.contact);
  await page.locator('#receipts-choice').selectOption('on', { timeout: left() });
  await waitFor('turn read receipts on', 'receipts', 'on');
  console.log('RECEIPTS ON');
  const navigated = navigations();
  const before = await shownIds();
  await waitFor('see their message', 'message', { before, dir: 'incoming', text: opt.reply });
  if (navigations() !== navigated) throw new Failure('the page reloaded: the message did not come over the WebSocket');
  console.log('SAW MESSAGE');
  const theirs = page.locator('.message.incoming', { hasText: opt.reply }).last();
  await theirs.locator('button.reply').click({ timeout: left() });
  await page.locator('#text').fill(opt.text, { timeout: left() });
  await page.locator('#send').click({ timeout: left() });
  await waitFor('answer it, quoting it', 'quoted', { text: opt.text, quote: opt.reply });
  console.log('REPLIED');
  await theirs.locator('button.react').click({ timeout: left() });
  await theirs.locator('button.emoji', { hasText: '👍' }).click({ timeout: left() });
  await waitFor('react to it', 'reaction', { text: opt.reply, side: 'ours', emoji: '👍' });
  console.log('REACTED');
  const edited = `${opt.text}, at nine`;
  const ours = page.locator('.message.outgoing', { hasText: opt.text }).last();
  await ours.locator('button.edit').click({ timeout: left() });
  await page.locator('#text').fill(edited, { timeout: left() });
  await page.locator('#send').click({ timeout: left() });
  await waitFor('edit the answer', 'edited', edited);
  console.log('EDITED');
  const beforeTaken = await shownIds();
  await page.locator('#text').fill('take this back', { timeout: left() });
  await page.locator('#send').click({ timeout: left() });
  await waitFor('send what is taken back', 'message', { before: beforeTaken, dir: 'outgoing', text: 'take this back' });
  const taken = page.locator('.message.outgoing', { hasText: 'take this back' }).last();
  await taken.locator('button.delete').click({ timeout: left() });
  await taken.locator('button.delete.confirm').click({ timeout: left() });
  await waitFor('delete it for everyone', 'gone', 'take this back');
  console.log('DELETED');
  await waitFor('see their reaction on the answer', 'reaction', { text: edited, side: 'theirs', emoji: '❤' });
  console.log('SAW THEIR REACTION');
  await waitFor('see the answer read', 'state', { text: edited, state: 'read' });
  console.log('SAW READ');
}

async function shoot() {
  mkdirSync(dirname(opt.screenshot), { recursive: true });
  await page.screenshot({ path: opt.screenshot, fullPage: true, timeout: 10000 });
}

// Closing Chromium can hang; never let it keep the test waiting.
async function close() {
  await Promise.race([context?.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

let code = 0;
try {
  await run();
} catch (e) {
  code = 1;
  console.log(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
  if (fatal.length) console.error(`fatal page reports:\n  ${fatal.join('\n  ')}`);
  console.error(consoleErrors.length ? `console errors:\n  ${consoleErrors.join('\n  ')}` : 'no console errors');
  if (page) {
    // What the page showed, to tell "wrong contact" from "no reply" without opening the screenshot.
    const seen = await page.evaluate(() => ({
      error: document.getElementById('error')?.textContent,
      status: document.getElementById('status')?.textContent,
      contacts: [...document.querySelectorAll('.contact')].map((n) => n.dataset.alias),
      last: [...document.querySelectorAll('.message')].slice(-5).map((n) => n.className + ': ' + n.textContent),
    })).catch(() => null);
    if (seen) console.error(`page: ${JSON.stringify(seen, null, 2)}`);
    await shoot().then(() => console.error(`screenshot: ${opt.screenshot}`))
      .catch((s) => console.error(`no screenshot: ${s.message}`));
  }
}
await close();
process.exit(code);
