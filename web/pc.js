// pc.js — the PC login page: asks the broker for a ticket, shows its QR code,
// follows the ticket's life (scanned, denied, expired, rotated) and on `login`
// stores the pair and moves to /app.html.

import { QrSocket, pcTokens, parseUserAgent, sleep, retryDelayMs } from './qrlogin.js';

const $ = (id) => document.getElementById(id);
const els = {
  status: $('status'),
  qr: $('qr'),
  codeBox: $('code-box'),
  code: $('code'),
  newCode: $('new-code'),
  link: $('ticket-url'),
  already: $('signed-in-note'),
};

// waiting | scanned | denied | expired | failed | done
let state = 'connecting';
let ticket = null;
let asking = false;

const clientName = parseUserAgent(navigator.userAgent).label;
const socket = new QrSocket();
window.qrlogin.socket = socket;

function setStatus(text) {
  els.status.textContent = text;
}

/** Dim the QR when it can no longer be used, so nobody scans a dead code. */
function setQrUsable(usable) {
  els.qr.classList.toggle('qr-dead', !usable);
}

function showNewCodeButton(show) {
  els.newCode.hidden = !show;
  if (show) els.newCode.focus({ preventScroll: true });
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
  // Size comes from CSS; a viewBox keeps it scalable and crisp.
  if (!root.hasAttribute('viewBox') && root.hasAttribute('width') && root.hasAttribute('height')) {
    root.setAttribute('viewBox', `0 0 ${parseFloat(root.getAttribute('width'))} ${parseFloat(root.getAttribute('height'))}`);
  }
  root.removeAttribute('width');
  root.removeAttribute('height');
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', 'QR code: scan it with your phone to sign in');
  root.setAttribute('focusable', 'false');
  return document.importNode(root, true);
}

function showTicket(msg) {
  ticket = msg.ticket;
  state = 'waiting';
  const svg = renderSvg(msg.qr_svg);
  if (svg) els.qr.replaceChildren(svg);
  else els.qr.replaceChildren(document.createTextNode('The code could not be drawn.'));
  setQrUsable(true);

  if (typeof msg.code === 'string' && msg.code) {
    els.code.textContent = msg.code;
    els.codeBox.hidden = false;
  } else {
    els.code.textContent = '';
    els.codeBox.hidden = true;
  }
  if (typeof msg.url === 'string' && /^https?:\/\//i.test(msg.url)) {
    els.link.href = msg.url;
    els.link.hidden = false;
  } else {
    els.link.hidden = true;
  }
  showNewCodeButton(false);
  // A silent rotation keeps the status as it is (the user has nothing to do).
  if (!msg.rotated) setStatus('Waiting for your phone… Scan the code to sign in.');
}

/** ticket.new, retried while the broker says rate_limited. */
async function askTicket() {
  if (asking) return;
  asking = true;
  showNewCodeButton(false);
  setStatus('Getting a sign-in code…');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const msg = await socket.request('ticket.new', { client: { name: clientName } });
        showTicket(msg);
        return;
      } catch (err) {
        if (err.code === 'rate_limited' && attempt < 5) {
          await sleep(retryDelayMs(err));
          continue;
        }
        if (err.code === 'disconnected') return; // onReady asks again
        state = 'failed';
        setQrUsable(false);
        setStatus('Could not get a sign-in code. Please try again.');
        showNewCodeButton(true);
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
  if (state === 'waiting' || state === 'connecting') showTicket(msg);
});

socket.on('ticket.scanned', (msg) => {
  if (!isOurs(msg)) return;
  state = 'scanned';
  const name = msg.user && msg.user.name ? msg.user.name : 'your phone';
  setStatus(`Scanned by ${name} — confirm on your phone`);
});

socket.on('ticket.denied', (msg) => {
  if (!isOurs(msg)) return;
  state = 'denied';
  ticket = null;
  setQrUsable(false);
  setStatus('Denied on the phone');
  showNewCodeButton(true);
});

socket.on('ticket.expired', (msg) => {
  if (!isOurs(msg)) return;
  state = 'expired';
  ticket = null;
  setQrUsable(false);
  setStatus('Code expired');
  showNewCodeButton(true);
});

socket.on('login', (msg) => {
  if (!isOurs(msg) || typeof msg.access_token !== 'string') return;
  state = 'done';
  pcTokens.save(msg);
  setStatus('Signed in');
  setQrUsable(false);
  location.assign('/app.html');
});

socket.onStatus((s) => {
  if (s === 'closed' && (state === 'waiting' || state === 'scanned')) {
    // The broker cancels a ticket whose socket closed; this code is dead.
    setQrUsable(false);
    setStatus('Connection lost — reconnecting…');
    state = 'connecting';
  }
});

socket.onReady(() => {
  // First connect and every reconnect: a ticket does not survive its socket.
  // After denied/expired the user asks for a new code with the button, so a
  // reconnect then does not start a fresh round of rotations on its own.
  if (state === 'connecting' || state === 'waiting' || state === 'scanned' || state === 'failed') askTicket();
});

els.newCode.addEventListener('click', () => {
  state = 'connecting';
  askTicket();
});

// A sign-in already stored on this computer: offer the app, still show a code
// (someone may want to sign in as another user).
if (pcTokens.current()) els.already.hidden = false;

socket.start();
