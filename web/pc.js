// pc.js — the PC login page: asks the broker for a ticket, shows its QR code,
// follows the ticket's life (scanned, denied, expired, rotated) and on `login`
// stores the pair and moves to /app.html.

import { QrSocket, pcTokens, parseUserAgent, sleep, retryDelayMs } from './qrlogin.js';
import { setText, setLabel, clearText } from './i18n.js';

const $ = (id) => document.getElementById(id);
const els = {
  main: $('pc'),
  status: $('status'),
  detail: $('status-detail'),
  qr: $('qr'),
  overlay: $('qr-overlay'),
  codeBox: $('code-box'),
  code: $('code'),
  newCode: $('new-code'),
  link: $('ticket-url'),
  already: $('signed-in-note'),
};

// connecting | getting | waiting | scanned | signed-in | denied | expired | failed | lost
let state = 'connecting';
let ticket = null;
let asking = false;
let linkOk = false; // the ticket's url is a usable http(s) link

// Sent to the broker as the ticket's client name (shown on the phone as-is).
const clientName = parseUserAgent(navigator.userAgent).label;

// Sent here by an application's OpenID Connect sign-in (GET /authorize): the
// broker's handle of that request, in the fragment so no log carries it. The
// code is then for that application, and on `login` the page goes back to it
// with an authorization code instead of keeping tokens (docs/oidc.md).
const authorize = (/^#authz=([A-Za-z0-9_-]{1,64})$/.exec(location.hash) || [])[1] || null;
const socket = new QrSocket();
window.qrlogin.socket = socket;

const VIEW = {
  //           status key                detail key              QR usable  overlay key           new-code button
  connecting: ['pc.status.connecting',  null,                   false,     null,                 false],
  getting:    ['pc.status.getting',     null,                   false,     null,                 false],
  waiting:    ['pc.status.waiting',     'pc.detail.waiting',    true,      null,                 false],
  scanned:    ['pc.status.scanned',     'pc.detail.scanned',    false,     'pc.overlay.scanned', false],
  'signed-in': ['pc.status.signedIn',   'pc.detail.signedIn',   false,     'pc.overlay.signedIn', false],
  denied:     ['pc.status.denied',      'pc.detail.denied',     false,     null,                 true],
  expired:    ['pc.status.expired',     'pc.detail.expired',    false,     null,                 true],
  failed:     ['pc.status.failed',      null,                   false,     null,                 true],
  lost:       ['pc.status.lost',        'pc.detail.lost',       false,     null,                 false],
};

/** One place that turns the state into what the page shows. */
function setState(next, vars = {}) {
  const wasButton = !els.newCode.hidden;
  state = next;
  const [statusKey, detailKey, usable, overlayKey, button] = VIEW[next];
  els.main.dataset.state = next;
  let key = statusKey;
  if (next === 'scanned' && !vars.name) key = 'pc.status.scannedAnon';
  setText(els.status, key, vars);
  if (detailKey) setText(els.detail, detailKey);
  else clearText(els.detail);
  // A code that can no longer be used is faded so nobody scans a dead code.
  els.qr.classList.toggle('qr-dead', !usable);
  if (overlayKey) {
    setText(els.overlay, overlayKey);
    els.overlay.hidden = false;
  } else {
    clearText(els.overlay);
    els.overlay.hidden = true;
  }
  els.newCode.hidden = !button;
  // The "open on this computer" link only while its code can be used.
  els.link.hidden = !(usable && linkOk);
  // Keyboard users land on the one thing they can do next.
  if (button && !wasButton) els.newCode.focus({ preventScroll: true });
}

/**
 * The broker's SVG is trusted, but it still goes through an XML parser into a
 * separate document and is imported node by node: no HTML parsing of strings,
 * and anything active is dropped on the way as defence in depth.
 */
function renderSvg(svgText) {
  const doc = new DOMParser().parseFromString(String(svgText || ''), 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'svg' || root.namespaceURI !== 'http://www.w3.org/2000/svg'
      || doc.getElementsByTagName('parsererror').length) {
    return null;
  }
  for (const bad of root.querySelectorAll('script, foreignObject')) bad.remove();
  for (const el of [root, ...root.querySelectorAll('*')]) {
    for (const a of [...el.attributes]) {
      if (/^on/i.test(a.name) || a.name === 'style' || /^\s*javascript:/i.test(a.value)) el.removeAttribute(a.name);
    }
  }
  // Size comes from CSS; a viewBox keeps it scalable and crisp at any zoom.
  if (!root.hasAttribute('viewBox') && root.hasAttribute('width') && root.hasAttribute('height')) {
    root.setAttribute('viewBox', `0 0 ${parseFloat(root.getAttribute('width'))} ${parseFloat(root.getAttribute('height'))}`);
  }
  root.removeAttribute('width');
  root.removeAttribute('height');
  root.setAttribute('shape-rendering', 'crispEdges');
  root.setAttribute('role', 'img');
  root.setAttribute('focusable', 'false');
  const node = document.importNode(root, true);
  setLabel(node, 'pc.qrAlt');
  return node;
}

function showTicket(msg) {
  ticket = msg.ticket;
  const svg = renderSvg(msg.qr_svg);
  if (svg) {
    els.qr.replaceChildren(svg);
  } else {
    const p = document.createElement('span');
    setText(p, 'pc.qrBroken');
    els.qr.replaceChildren(p);
  }
  els.qr.dataset.rotated = msg.rotated ? 'true' : 'false';

  if (typeof msg.code === 'string' && msg.code) {
    els.code.textContent = msg.code;
    els.codeBox.hidden = false;
  } else {
    els.code.textContent = '';
    els.codeBox.hidden = true;
  }
  linkOk = typeof msg.url === 'string' && /^https?:\/\//i.test(msg.url);
  if (linkOk) els.link.href = msg.url;
  // A silent rotation keeps the status line as it is (the user has nothing
  // to do); setState re-renders the same text, which aria-live ignores.
  setState('waiting');
}

/** ticket.new, retried while the broker says rate_limited. */
async function askTicket() {
  if (asking) return;
  asking = true;
  setState('getting');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const msg = await socket.request('ticket.new',
          authorize ? { authorize } : { client: { name: clientName } });
        showTicket(msg);
        return;
      } catch (err) {
        if (err.code === 'rate_limited' && attempt < 5) {
          await sleep(retryDelayMs(err));
          continue;
        }
        if (err.code === 'disconnected') return; // onReady asks again
        ticket = null;
        setState('failed');
        return;
      }
    }
  } finally {
    asking = false;
  }
}

function isOurs(msg) {
  return !msg.ticket || msg.ticket === ticket;
}

socket.on('ticket', (msg) => {
  // Pushes (replies to ticket.new go to askTicket): a rotation replaces the
  // pending ticket, and the old one is dead at once.
  if (state === 'waiting') showTicket(msg);
});

socket.on('ticket.scanned', (msg) => {
  if (!isOurs(msg) || !ticket) return;
  setState('scanned', { name: msg.user && msg.user.name ? String(msg.user.name) : '' });
});

socket.on('ticket.denied', (msg) => {
  if (!isOurs(msg) || !ticket) return;
  ticket = null;
  setState('denied');
});

socket.on('ticket.expired', (msg) => {
  if (!isOurs(msg) || !ticket) return;
  ticket = null;
  setState('expired');
});

socket.on('login', (msg) => {
  if (!isOurs(msg)) return;
  if (authorize && typeof msg.redirect === 'string' && /^https?:\/\//.test(msg.redirect)) {
    ticket = null;
    setState('signed-in');
    location.assign(msg.redirect); // the application's redirect_uri, with the code
    return;
  }
  if (typeof msg.access_token !== 'string') return;
  ticket = null;
  pcTokens.save(msg);
  setState('signed-in');
  location.assign('/app.html');
});

socket.onStatus((s) => {
  if (s === 'closed' && (state === 'waiting' || state === 'scanned' || state === 'getting')) {
    // The broker cancels a ticket whose socket closed; this code is dead.
    ticket = null;
    setState('lost');
  }
});

socket.onReady(() => {
  // First connect and every reconnect: a ticket does not survive its socket.
  // After denied/expired the user asks for a new code with the button, so a
  // reconnect then does not start a fresh round of rotations on its own.
  if (state === 'connecting' || state === 'lost' || state === 'failed') askTicket();
});

els.newCode.addEventListener('click', () => {
  askTicket();
});

// A sign-in already stored on this computer: offer the app, still show a code
// (someone may want to sign in as another user).
if (pcTokens.current() && !authorize) els.already.hidden = false;

socket.start();
