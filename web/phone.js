// phone.js — the phone page: password sign-in (kept in its own storage key),
// then either the decision on a scanned ticket (#t=<ticket>) or the account
// view (signed-in devices, revoke, log out everywhere).

import {
  QrSocket, phoneTokens, parseUserAgent, formatDuration, isFatal, sleep, retryDelayMs,
} from './qrlogin.js';

const $ = (id) => document.getElementById(id);
const els = {
  conn: $('conn'),
  notice: $('notice'),
  views: {
    loading: $('view-loading'),
    signin: $('view-signin'),
    ticket: $('view-ticket'),
    account: $('view-account'),
  },
  form: $('signin-form'),
  signinHint: $('signin-hint'),
  signinError: $('signin-error'),
  signinSubmit: $('signin-submit'),
  ticketChecking: $('ticket-checking'),
  ticketDetails: $('ticket-details'),
  pcLabel: $('pc-label'),
  pcBrowser: $('pc-browser'),
  pcOs: $('pc-os'),
  pcName: $('pc-name'),
  pcNameRow: $('pc-name-row'),
  pcIp: $('pc-ip'),
  pcCreated: $('pc-created'),
  pcLeft: $('pc-left'),
  pcProgress: $('pc-progress'),
  pcUa: $('pc-ua'),
  choices: $('code-choices'),
  choiceButtons: $('choice-buttons'),
  decide: $('decide'),
  confirm: $('confirm'),
  deny: $('deny'),
  result: $('ticket-result'),
  done: $('ticket-done'),
  user: $('user'),
  sessions: $('sessions'),
  sessionsStatus: $('sessions-status'),
  reloadSessions: $('reload-sessions'),
  logoutAll: $('logout-all'),
  signout: $('signout'),
};

const socket = new QrSocket();
window.qrlogin.socket = socket;

// The phone refreshes over its socket: the page lives on that socket anyway
// and is authenticated through it, so no second channel is needed.
phoneTokens.transport = (refreshToken) => socket.request('token.refresh', { refresh_token: refreshToken });
phoneTokens.watchSignOut = true;
phoneTokens.onSignedOut = (reason) => showSignin(reasonText(reason));

let view = 'loading';
let authed = false;       // this socket passed auth.* since its last hello
let user = null;
let ticket = null;        // from #t=…
let phase = null;         // null | scanning | pending | deciding | done
let choices = null;       // code_choices of the current ticket, if any
let chosen = null;
let countdown = 0;
let deadline = 0;         // performance.now() ms when the ticket dies
let signingOut = false;

// ---------------------------------------------------------------------------
// small helpers

function show(name) {
  if (view === name) return;
  view = name;
  for (const [key, el] of Object.entries(els.views)) el.hidden = key !== name;
  // Move focus to the new view's heading so screen readers announce it.
  const h = els.views[name].querySelector('h1');
  if (h) h.focus({ preventScroll: true });
}

function notice(text) {
  els.notice.textContent = text || '';
  els.notice.hidden = !text;
}

function reasonText(reason) {
  switch (reason) {
    case 'logout_all': return 'You were signed out on all devices. Sign in again to continue.';
    case 'refresh_reused': return 'For your safety this phone was signed out. Please sign in again.';
    case 'revoked': case 'session_revoked': return 'This phone’s sign-in was revoked. Please sign in again.';
    case 'logout': case 'signout': return 'You are signed out.';
    case 'elsewhere': return 'You signed out in another tab.';
    case 'token_expired': return 'Your sign-in has expired. Please sign in again.';
    default: return 'Please sign in again.';
  }
}

/** Server timestamps are ms since the epoch; accept seconds too. */
function toMs(v) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return null;
  return n < 1e12 ? n * 1000 : n;
}

function formatTime(v, withSeconds = false) {
  const ms = toMs(v);
  if (ms === null) return 'unknown';
  return new Date(ms).toLocaleString([], withSeconds
    ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
    : { dateStyle: 'medium', timeStyle: 'short' });
}

function ago(v) {
  const ms = toMs(v);
  if (ms === null) return 'unknown';
  const s = Math.round((socket.serverNow() - ms) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return formatTime(ms);
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('aria-') || k === 'type' || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// ---------------------------------------------------------------------------
// the ticket from the URL

function takeTicketFromHash() {
  const raw = location.hash.replace(/^#/, '');
  if (!raw) return false;
  const t = new URLSearchParams(raw).get('t');
  // Drop it from the visible URL (and from history) at once.
  history.replaceState(history.state, '', location.pathname + location.search);
  if (!t || t.length > 512) return false;
  ticket = t;
  phase = null;
  return true;
}

addEventListener('hashchange', () => {
  // Scanning another code while this page is open only changes the hash.
  if (takeTicketFromHash() && authed) scan();
});

// ---------------------------------------------------------------------------
// sign-in

function showSignin(text) {
  authed = false;
  user = null;
  stopCountdown();
  notice(text);
  els.signinHint.hidden = !ticket;
  els.signinSubmit.disabled = false;
  show('signin');
}

/** auth.token with the stored access token; refreshed once if the broker
 *  says it is expired or invalid. */
async function authWithToken(t) {
  try {
    return await socket.request('auth.token', { access_token: t.access_token });
  } catch (err) {
    if (err.code !== 'token_expired' && err.code !== 'invalid_token') throw err;
  }
  const fresh = await phoneTokens.refresh(t.access_token);
  return socket.request('auth.token', { access_token: fresh.access_token });
}

async function authenticate() {
  authed = false;
  for (let attempt = 0; ; attempt++) {
    const t = phoneTokens.current();
    if (!t) {
      // Keep a half-typed form as it is (idle sockets are closed and reconnect).
      if (view !== 'signin') showSignin('');
      return;
    }
    try {
      const reply = await authWithToken(t);
      onAuthed(reply);
      return;
    } catch (err) {
      if (err.code === 'disconnected' || err.code === 'timeout') return; // the next hello retries
      if (err.code === 'rate_limited' && attempt < 3) {
        await sleep(retryDelayMs(err));
        continue;
      }
      if (isFatal(err) || err.code === 'refresh_reused') {
        phoneTokens.clear(err.code);
        showSignin(reasonText(err.code));
        return;
      }
      notice(`Could not sign in (${err.code}). Retrying…`);
      await sleep(3000);
    }
  }
}

function onAuthed(reply) {
  authed = true;
  signingOut = false;
  const stored = phoneTokens.current();
  user = reply.user || (stored && stored.user) || null;
  if (reply.user) phoneTokens.setUser(reply.user);
  if (stored && Number.isFinite(reply.expires_in)) phoneTokens.noteExpiresIn(stored.access_token, reply.expires_in);
  if (view === 'signin' || view === 'loading') notice('');
  if (ticket && phase !== 'done') scan();
  else if (view !== 'ticket') showAccount();
}

els.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = els.form.elements.username.value.trim();
  const password = els.form.elements.password.value;
  if (!username || !password) {
    els.signinError.textContent = 'Enter your username and password.';
    return;
  }
  els.signinError.textContent = '';
  els.signinSubmit.disabled = true;
  try {
    const reply = await socket.request('auth.password', { username, password });
    els.form.elements.password.value = '';
    phoneTokens.save(reply);
    onAuthed(reply);
  } catch (err) {
    let text;
    switch (err.code) {
      case 'unauthorized': text = 'Wrong username or password.'; break;
      case 'rate_limited': text = `Too many attempts. Try again in ${Math.ceil(err.retryAfter || 60)} seconds.`; break;
      case 'disconnected': case 'timeout': text = 'No connection to the server. Please try again.'; break;
      default: text = `Sign-in failed (${err.code}).`;
    }
    els.signinError.textContent = text;
  } finally {
    els.signinSubmit.disabled = false;
  }
});

// ---------------------------------------------------------------------------
// the ticket: scan, decide

function stopCountdown() {
  clearInterval(countdown);
  countdown = 0;
}

function startCountdown(seconds) {
  stopCountdown();
  // Relative seconds from the broker, measured locally with performance.now(),
  // so a phone with a wrong clock still counts correctly.
  deadline = performance.now() + seconds * 1000;
  els.pcProgress.max = Math.max(1, seconds);
  const update = () => {
    const left = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
    els.pcLeft.textContent = formatDuration(left);
    els.pcProgress.value = left;
    if (left <= 0 && (phase === 'pending' || phase === 'deciding')) {
      finish('This code has expired — get a new one on the computer.', 'bad');
    }
  };
  update();
  countdown = setInterval(update, 1000);
}

function resetTicketView() {
  els.ticketChecking.hidden = false;
  els.ticketDetails.hidden = true;
  els.choices.hidden = true;
  els.decide.hidden = true;
  els.done.hidden = true;
  els.result.textContent = '';
  els.result.className = 'result';
  els.confirm.disabled = true;
  els.deny.disabled = true;
}

async function scan() {
  const t = ticket;
  if (!t) return;
  phase = 'scanning';
  stopCountdown();
  resetTicketView();
  notice('');
  show('ticket');
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await socket.request('ticket.scan', { ticket: t });
      if (t !== ticket) return; // another code was opened meanwhile
      showInfo(info);
      return;
    } catch (err) {
      if (t !== ticket) return;
      if (err.code === 'disconnected' || err.code === 'timeout') return; // rescanned after reconnect
      if (err.code === 'rate_limited' && attempt < 3) {
        await sleep(retryDelayMs(err));
        continue;
      }
      failTicket(err);
      return;
    }
  }
}

function showInfo(info) {
  phase = 'pending';
  const pc = info.pc || {};
  const ua = parseUserAgent(pc.user_agent);
  els.pcLabel.textContent = ua.label;
  els.pcBrowser.textContent = ua.browser;
  els.pcOs.textContent = ua.os;
  els.pcIp.textContent = pc.ip || 'unknown';
  els.pcName.textContent = pc.client_name || '';
  els.pcNameRow.hidden = !pc.client_name;
  els.pcCreated.textContent = formatTime(pc.created_at, true);
  els.pcUa.textContent = pc.user_agent || 'not sent';
  els.ticketChecking.hidden = true;
  els.ticketDetails.hidden = false;

  choices = Array.isArray(info.code_choices) && info.code_choices.length ? info.code_choices.map(String) : null;
  chosen = null;
  els.choiceButtons.replaceChildren();
  if (choices) {
    for (const c of choices) {
      const b = el('button', {
        type: 'button', class: 'btn choice', textContent: c,
        'aria-pressed': 'false', dataset: { testid: 'code-choice', code: c },
      });
      b.addEventListener('click', () => choose(c));
      els.choiceButtons.append(b);
    }
    els.choices.hidden = false;
  } else {
    els.choices.hidden = true;
  }
  els.decide.hidden = false;
  els.deny.disabled = false;
  els.confirm.disabled = !!choices; // with number matching, pick a number first
  startCountdown(Number(info.expires_in) || 0);
}

function choose(code) {
  if (phase !== 'pending') return;
  chosen = code;
  for (const b of els.choiceButtons.children) b.setAttribute('aria-pressed', String(b.dataset.code === code));
  els.confirm.disabled = false;
}

async function decide(confirm) {
  if (phase !== 'pending' || !ticket) return;
  if (confirm && choices && !chosen) return;
  phase = 'deciding';
  els.confirm.disabled = true;
  els.deny.disabled = true;
  for (const b of els.choiceButtons.children) b.disabled = true;
  const fields = { ticket };
  if (confirm && choices) fields.code = chosen;
  try {
    await socket.request(confirm ? 'ticket.confirm' : 'ticket.deny', fields);
    finish(confirm
      ? 'Confirmed. The computer is signing in now.'
      : 'Denied. The computer was not signed in.', confirm ? 'good' : 'neutral');
  } catch (err) {
    if (err.code === 'disconnected' || err.code === 'timeout') {
      // Unknown whether it arrived: after reconnect the scan tells us.
      finish('The connection dropped before the answer arrived. If the computer did not change, get a new code there.', 'bad');
      return;
    }
    failTicket(err);
  }
}

function finish(text, tone) {
  phase = 'done';
  stopCountdown();
  els.choices.hidden = true;
  els.decide.hidden = true;
  els.ticketChecking.hidden = true;
  els.result.textContent = text;
  els.result.className = `result result-${tone}`;
  els.done.hidden = false;
  show('ticket');
}

function failTicket(err) {
  switch (err.code) {
    case 'not_found':
      finish('This code is no longer valid — get a new one on the computer.', 'bad'); break;
    case 'code_mismatch':
      finish('That was the wrong number, so this sign-in was cancelled for safety. Get a new code on the computer.', 'bad'); break;
    case 'conflict':
      finish('This code was already scanned by another account.', 'bad'); break;
    case 'unauthorized':
      authenticate(); break;
    default:
      finish(`Something went wrong (${err.code}). Get a new code on the computer.`, 'bad');
  }
}

els.confirm.addEventListener('click', () => decide(true));
els.deny.addEventListener('click', () => decide(false));
els.done.addEventListener('click', () => {
  ticket = null;
  phase = null;
  if (authed) showAccount();
  else showSignin('');
});

socket.on('ticket.cancelled', (msg) => {
  if (msg.ticket && msg.ticket !== ticket) return;
  if (phase === 'done' || phase === null) return;
  finish('The computer cancelled', 'neutral');
});

// ---------------------------------------------------------------------------
// account: sessions, revoke, log out everywhere, sign out

function showAccount() {
  notice('');
  els.user.textContent = user && user.name ? user.name : '';
  show('account');
  loadSessions();
}

async function loadSessions() {
  els.sessionsStatus.textContent = 'Loading devices…';
  try {
    const reply = await socket.request('session.list');
    renderSessions(Array.isArray(reply.sessions) ? reply.sessions : []);
  } catch (err) {
    if (err.code === 'unauthorized') { authenticate(); return; }
    els.sessionsStatus.textContent = `Could not load devices (${err.code}).`;
  }
}

function renderSessions(list) {
  const sorted = [...list].sort((a, b) => (b.current - a.current) || ((toMs(b.last_used_at) || 0) - (toMs(a.last_used_at) || 0)));
  els.sessions.replaceChildren();
  for (const s of sorted) {
    const ua = parseUserAgent(s.user_agent);
    const kind = s.kind === 'web' ? 'Computer (web)' : s.kind === 'app' ? 'Phone (app)' : String(s.kind || 'Device');
    const title = el('p', { class: 'session-title' }, el('strong', { textContent: ua.label }));
    if (s.current) title.append(' ', el('span', { class: 'tag', textContent: 'this device' }));
    const revoke = el('button', {
      type: 'button', class: 'btn btn-small btn-secondary', textContent: 'Revoke',
      'aria-label': `Revoke ${ua.label}${s.current ? ' (this device)' : ''}`, dataset: { testid: 'revoke' },
    });
    revoke.addEventListener('click', () => revokeSession(s, revoke));
    els.sessions.append(el('li', { class: 'session', dataset: { sessionId: String(s.session_id) } },
      el('div', { class: 'session-info' },
        title,
        el('p', { class: 'muted', textContent: `${kind} · ${s.ip || 'unknown IP'}` }),
        el('p', { class: 'muted', textContent: `Signed in ${formatTime(s.created_at)} · last used ${ago(s.last_used_at)}` })),
      revoke));
  }
  els.sessionsStatus.textContent = sorted.length === 1 ? '1 device is signed in.' : `${sorted.length} devices are signed in.`;
}

async function revokeSession(s, button) {
  button.disabled = true;
  if (s.current) signingOut = true;
  try {
    await socket.request('session.revoke', { session_id: s.session_id });
    if (s.current) {
      phoneTokens.clear('signout');
      showSignin(reasonText('signout'));
      return;
    }
    loadSessions();
  } catch (err) {
    button.disabled = false;
    signingOut = false;
    els.sessionsStatus.textContent = `Could not revoke (${err.code}).`;
  }
}

els.reloadSessions.addEventListener('click', loadSessions);

els.logoutAll.addEventListener('click', async () => {
  if (!window.confirm('Sign out every device of this account, including this phone?')) return;
  els.logoutAll.disabled = true;
  signingOut = true;
  try {
    await socket.request('logout.all');
    phoneTokens.clear('logout_all');
    showSignin(reasonText('logout_all'));
  } catch (err) {
    signingOut = false;
    els.sessionsStatus.textContent = `Could not sign out everywhere (${err.code}).`;
  } finally {
    els.logoutAll.disabled = false;
  }
});

els.signout.addEventListener('click', async (ev) => {
  // Also end the session on the broker, so the refresh token dies with it;
  // the local sign-in is forgotten even if that fails (offline).
  ev.preventDefault();
  signingOut = true;
  const t = phoneTokens.current();
  if (t && t.session_id && authed) {
    try { await socket.request('session.revoke', { session_id: t.session_id }, { timeout: 3000 }); } catch { /* best effort */ }
  }
  phoneTokens.clear('signout');
  showSignin(reasonText('signout'));
});

socket.on('session.revoked', (msg) => {
  const t = phoneTokens.current();
  if (t && msg.session_id && t.session_id && msg.session_id !== t.session_id) return;
  phoneTokens.clear(msg.reason || 'revoked');
  showSignin(signingOut && msg.reason !== 'logout_all' ? reasonText('signout') : reasonText(msg.reason || 'revoked'));
});

// ---------------------------------------------------------------------------
// connection

socket.onStatus((s) => {
  els.conn.textContent = s === 'open' ? '' : s === 'connecting' ? 'Connecting…' : 'Offline — reconnecting…';
  els.conn.hidden = s === 'open';
});

socket.onReady(() => {
  // Every (re)connect: the broker forgot this socket's auth; sign in again
  // with the stored token, then the scan (if any) is repeated.
  authenticate();
});

takeTicketFromHash();
if (!phoneTokens.current()) showSignin('');
socket.start();
