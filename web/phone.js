// phone.js — the phone page: password sign-in (kept in its own storage key),
// then either the decision on a scanned ticket (#t=<ticket>) or the account
// view (signed-in devices, recent approvals, revoke, log out everywhere).
// Every visible string comes from i18n.js (setText keeps the key, so a
// language switch re-renders it).

import {
  QrSocket, phoneTokens, parseUserAgent, formatDuration, isFatal, sleep, retryDelayMs,
} from './qrlogin.js';
import {
  t, setText, setVarText, setLabel, clearText, deviceVar, toMs, onLangChange,
} from './i18n.js';

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
  history: $('history'),
  reloadSessions: $('reload-sessions'),
  codeForm: $('code-form'),
  userCode: $('user-code'),
  logoutAll: $('logout-all'),
  signout: $('signout'),
};

const socket = new QrSocket();
window.qrlogin.socket = socket;

// The phone refreshes over its socket: the page lives on that socket anyway
// and is authenticated through it, so no second channel is needed.
phoneTokens.transport = (refreshToken) => socket.request('token.refresh', { refresh_token: refreshToken });
phoneTokens.watchSignOut = true;
phoneTokens.onSignedOut = (reason) => showSignin(reasonKey(reason));

let view = 'loading';
let authed = false;       // this socket passed auth.* since its last hello
let user = null;
let ticket = null;        // from #t=…
let userCode = null;      // a device's code typed on the account view, until scanned
let phase = null;         // null | scanning | pending | deciding | done
let choices = null;       // code_choices of the current ticket, if any
let chosen = null;
let countdown = 0;
let deadline = 0;         // performance.now() ms when the ticket dies
let signingOut = false;
let lastList = null;      // the last `sessions` reply, re-rendered on a language switch

// ---------------------------------------------------------------------------
// small helpers

function show(name) {
  if (view === name) return;
  view = name;
  for (const [key, el] of Object.entries(els.views)) el.hidden = key !== name;
  document.body.dataset.view = name;
  // Move focus to the new view's heading so screen readers announce it.
  const h = els.views[name].querySelector('h1');
  if (h) h.focus({ preventScroll: true });
}

function notice(key, vars) {
  if (key) setText(els.notice, key, vars);
  else clearText(els.notice);
  els.notice.hidden = !key;
}

function reasonKey(reason) {
  switch (reason) {
    case 'logout_all': return 'reason.logout_all';
    case 'refresh_reused': return 'reason.refresh_reused';
    case 'revoked': case 'session_revoked': return 'reason.revoked';
    case 'logout': case 'signout': return 'reason.signout';
    case 'elsewhere': return 'reason.elsewhere';
    case 'token_expired': return 'reason.token_expired';
    default: return 'reason.other';
  }
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

/** An element whose text is the translated key (kept on the element). */
function tx(tag, props, key, vars) {
  const e = el(tag, props);
  setText(e, key, vars);
  return e;
}

// ---------------------------------------------------------------------------
// the ticket from the URL

function takeTicketFromHash() {
  const raw = location.hash.replace(/^#/, '');
  if (!raw) return false;
  const tk = new URLSearchParams(raw).get('t');
  // Drop it from the visible URL (and from history) at once.
  history.replaceState(history.state, '', location.pathname + location.search);
  if (!tk || tk.length > 512) return false;
  ticket = tk;
  phase = null;
  return true;
}

addEventListener('hashchange', () => {
  // Scanning another code while this page is open only changes the hash.
  if (takeTicketFromHash() && authed) scan();
});

// ---------------------------------------------------------------------------
// sign-in

function showSignin(key) {
  authed = false;
  user = null;
  stopCountdown();
  notice(key || null);
  els.signinHint.hidden = !ticket;
  els.signinSubmit.disabled = false;
  show('signin');
}

/** auth.token with the stored access token; refreshed once if the broker
 *  says it is expired or invalid. */
async function authWithToken(tokens) {
  try {
    return await socket.request('auth.token', { access_token: tokens.access_token });
  } catch (err) {
    if (err.code !== 'token_expired' && err.code !== 'invalid_token') throw err;
  }
  const fresh = await phoneTokens.refresh(tokens.access_token);
  return socket.request('auth.token', { access_token: fresh.access_token });
}

async function authenticate() {
  authed = false;
  for (let attempt = 0; ; attempt++) {
    const stored = phoneTokens.current();
    if (!stored) {
      // Keep a half-typed form as it is (idle sockets are closed and reconnect).
      if (view !== 'signin') showSignin(null);
      return;
    }
    try {
      const reply = await authWithToken(stored);
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
        showSignin(reasonKey(err.code));
        return;
      }
      notice('phone.authRetry', { code: err.code });
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
  if (view === 'signin' || view === 'loading') notice(null);
  if (ticket && phase !== 'done') scan();
  else if (view !== 'ticket') showAccount();
}

els.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = els.form.elements.username.value.trim();
  const password = els.form.elements.password.value;
  if (!username || !password) {
    setText(els.signinError, 'phone.signin.empty');
    return;
  }
  clearText(els.signinError);
  els.signinSubmit.disabled = true;
  els.form.setAttribute('aria-busy', 'true');
  try {
    const reply = await socket.request('auth.password', { username, password });
    els.form.elements.password.value = '';
    phoneTokens.save(reply);
    onAuthed(reply);
  } catch (err) {
    switch (err.code) {
      case 'unauthorized': setText(els.signinError, 'phone.signin.wrong'); break;
      case 'rate_limited': setText(els.signinError, 'phone.signin.rate', { n: Math.ceil(err.retryAfter || 60) }); break;
      case 'disconnected': case 'timeout': setText(els.signinError, 'phone.signin.offline'); break;
      default: setText(els.signinError, 'phone.signin.failed', { code: err.code });
    }
  } finally {
    els.signinSubmit.disabled = false;
    els.form.removeAttribute('aria-busy');
  }
});

// ---------------------------------------------------------------------------
// sign-in handed over by the embedding app (docs/federation.md)
//
// An app that shows this page in its WebView, and already holds its user's
// token from its own identity provider, hands the token over by posting a
// message to the page from inside it:
//   window.postMessage({ type: 'qrlogin.external-token', token }, location.origin)
// (Android: WebView.evaluateJavascript; iOS: WKWebView.evaluateJavaScript).
// Only a message this window sent to itself is taken: the page cannot be
// framed (frame-ancestors 'none') and no other origin's window keeps a handle
// on it (Cross-Origin-Opener-Policy), so no web page can hand this phone a
// token. The token is used once, for auth.external, and never stored; the
// broker's own pair is kept as after a password sign-in. Not a URL fragment:
// a link is shared, kept in history, and anyone can build one that carries
// their own token, which would sign this phone in as them.

const EXTERNAL_TOKEN_MAX = 8192;

async function signInExternal(token) {
  clearText(els.signinError);
  try {
    const reply = await socket.request('auth.external', { token });
    phoneTokens.save(reply);
    onAuthed(reply);
  } catch (err) {
    if (view !== 'signin') showSignin(null);
    setText(els.signinError, 'phone.signin.external', { code: err.code });
  }
}

addEventListener('message', (ev) => {
  if (ev.source !== window || ev.origin !== location.origin) return;
  const d = ev.data;
  if (!d || d.type !== 'qrlogin.external-token' || typeof d.token !== 'string') return;
  if (!d.token || d.token.length > EXTERNAL_TOKEN_MAX) return;
  signInExternal(d.token);
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
    if (left <= 0 && (phase === 'pending' || phase === 'deciding')) finish('ticket.expired', 'bad');
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
  clearText(els.result);
  els.result.className = 'result';
  els.confirm.disabled = true;
  els.deny.disabled = true;
}

async function scan() {
  const tk = ticket;
  const uc = userCode;
  if (!tk && !uc) return;
  phase = 'scanning';
  stopCountdown();
  resetTicketView();
  notice(null);
  show('ticket');
  for (let attempt = 0; ; attempt++) {
    try {
      // A typed code names its ticket in the answer; the decision then
      // goes by ticket, as for a scanned QR (docs/oidc.md).
      const info = await socket.request('ticket.scan', uc ? { user_code: uc } : { ticket: tk });
      if (tk !== ticket || uc !== userCode) return; // another code was opened meanwhile
      if (uc) {
        userCode = null;
        ticket = String(info.ticket);
      }
      showInfo(info);
      return;
    } catch (err) {
      if (tk !== ticket || uc !== userCode) return;
      // The socket's message rate says wait a second and try again; wrong
      // typed codes say minutes (docs/protocol.md §6), which is the user's to know.
      if (err.code === 'rate_limited' && attempt < 3 && !(err.retryAfter > 2)) {
        await sleep(retryDelayMs(err));
        continue;
      }
      userCode = null;
      if (err.code === 'disconnected' || err.code === 'timeout') return; // rescanned after reconnect
      failTicket(err);
      return;
    }
  }
}

function showInfo(info) {
  phase = 'pending';
  const pc = info.pc || {};
  const ua = parseUserAgent(pc.user_agent);
  setVarText(els.pcLabel, deviceVar(ua));
  if (ua.browserKnown) setVarText(els.pcBrowser, ua.browser);
  else setText(els.pcBrowser, 'device.unknownBrowser');
  if (ua.osKnown) setVarText(els.pcOs, ua.os);
  else setText(els.pcOs, 'device.unknownOs');
  if (pc.ip) setVarText(els.pcIp, String(pc.ip));
  else setText(els.pcIp, 'ticket.ipUnknown');
  // The name the PC gave itself; not repeated when it only says what the
  // browser/OS rows already say.
  const clientName = pc.client_name ? String(pc.client_name) : '';
  els.pcName.textContent = clientName;
  els.pcNameRow.hidden = !clientName || clientName === ua.label;
  setVarText(els.pcCreated, { time: pc.created_at, style: 'clock' });
  if (pc.user_agent) setVarText(els.pcUa, String(pc.user_agent));
  else setText(els.pcUa, 'ticket.uaMissing');
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
    finish(confirm ? 'ticket.confirmed' : 'ticket.denied', confirm ? 'good' : 'neutral');
  } catch (err) {
    if (err.code === 'disconnected' || err.code === 'timeout') {
      // Unknown whether it arrived: after reconnect the scan tells us.
      finish('ticket.dropped', 'bad');
      return;
    }
    failTicket(err);
  }
}

function finish(key, tone, vars) {
  phase = 'done';
  stopCountdown();
  els.choices.hidden = true;
  els.decide.hidden = true;
  els.ticketChecking.hidden = true;
  setText(els.result, key, vars);
  els.result.className = `result result-${tone}`;
  els.result.dataset.outcome = key.replace(/^ticket\./, '');
  els.done.hidden = false;
  show('ticket');
  els.done.focus({ preventScroll: true });
}

function failTicket(err) {
  switch (err.code) {
    case 'not_found': finish('ticket.notFound', 'bad'); break;
    case 'code_mismatch': finish('ticket.mismatch', 'bad'); break;
    case 'conflict': finish('ticket.conflict', 'bad'); break;
    case 'unauthorized': authenticate(); break;
    default:
      if (err.code === 'rate_limited' && err.retryAfter > 2) { // wrong typed codes, not the message rate
        finish('ticket.tooManyCodes', 'bad', { n: err.retryAfter });
        break;
      }
      finish('ticket.error', 'bad', { code: err.code });
  }
}

els.codeForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const typed = els.userCode.value.trim();
  if (!typed || !authed) return;
  els.userCode.value = '';
  ticket = null;
  userCode = typed.slice(0, 32);
  phase = null;
  scan();
});

els.confirm.addEventListener('click', () => decide(true));
els.deny.addEventListener('click', () => decide(false));
els.done.addEventListener('click', () => {
  ticket = null;
  phase = null;
  if (authed) showAccount();
  else showSignin(null);
});

socket.on('ticket.cancelled', (msg) => {
  if (msg.ticket && msg.ticket !== ticket) return;
  if (phase === 'done' || phase === null) return;
  finish('ticket.cancelled', 'neutral');
});

// ---------------------------------------------------------------------------
// account: sessions, recent approvals, revoke, log out everywhere, sign out

function showAccount() {
  notice(null);
  els.user.textContent = user && user.name ? user.name : '';
  show('account');
  loadSessions();
}

async function loadSessions() {
  setText(els.sessionsStatus, 'account.loading');
  try {
    const reply = await socket.request('session.list');
    lastList = {
      sessions: Array.isArray(reply.sessions) ? reply.sessions : [],
      history: Array.isArray(reply.history) ? reply.history : [],
    };
    renderSessions(lastList.sessions);
    renderHistory(lastList.history);
  } catch (err) {
    if (err.code === 'unauthorized') { authenticate(); return; }
    setText(els.sessionsStatus, 'account.loadFailed', { code: err.code });
  }
}

function kindKey(kind) {
  return kind === 'web' ? 'account.kind.web' : kind === 'app' ? 'account.kind.app' : 'account.kind.other';
}

function renderSessions(list) {
  const off = socket.clockOffset;
  const sorted = [...list].sort((a, b) => (b.current - a.current)
    || ((toMs(b.last_used_at) || 0) - (toMs(a.last_used_at) || 0)));
  els.sessions.replaceChildren();
  for (const s of sorted) {
    const ua = parseUserAgent(s.user_agent);
    const device = deviceVar(ua);
    const ip = s.ip ? String(s.ip) : { k: 'account.ipUnknown' };
    const title = el('p', { class: 'session-title' });
    const name = el('strong');
    setVarText(name, device);
    title.append(name, ' ', tx('span', { class: 'tag tag-kind' }, kindKey(s.kind)));
    // signed in through OpenID Connect: which application holds it
    if (s.client_name) title.append(' ', tx('span', { class: 'tag', dataset: { testid: 'session-client' } }, 'raw', { x: String(s.client_name) }));
    if (s.current) title.append(' ', tx('span', { class: 'tag' }, 'account.thisDevice'));
    const revoke = tx('button', {
      type: 'button', class: 'btn btn-small btn-secondary', dataset: { testid: 'revoke' },
    }, 'account.revoke');
    setLabel(revoke, s.current ? 'account.revokeLabelCurrent' : 'account.revokeLabel', { device });
    revoke.addEventListener('click', () => revokeSession(s, revoke));
    els.sessions.append(el('li', {
      class: 'session',
      dataset: { sessionId: String(s.session_id), kind: String(s.kind || ''), current: String(!!s.current) },
    },
    el('div', { class: 'session-info' },
      title,
      tx('p', { class: 'muted session-from', dataset: { testid: 'session-from' } }, 'account.signedInFrom',
        { device, ip, time: { time: s.created_at } }),
      tx('p', { class: 'muted' }, 'account.lastUsed', { ago: { ago: s.last_used_at, off } })),
    revoke));
  }
  setText(els.sessionsStatus, 'account.count', { n: sorted.length });
}

const OUTCOMES = new Set(['confirmed', 'denied', 'code_mismatch']);

function renderHistory(list) {
  const items = [...list]
    .sort((a, b) => (toMs(b.at) || 0) - (toMs(a.at) || 0))
    .slice(0, 5);
  els.history.replaceChildren();
  if (!items.length) {
    els.history.append(tx('li', { class: 'history-empty muted' }, 'account.historyEmpty'));
    return;
  }
  for (const h of items) {
    const outcome = OUTCOMES.has(h.outcome) ? h.outcome : 'other';
    const ip = h.ip ? String(h.ip) : { k: 'account.ipUnknown' };
    els.history.append(el('li', { class: 'history-item', dataset: { outcome, testid: 'history-item' } },
      tx('span', { class: `badge badge-${outcome}` }, `account.outcome.${outcome}`),
      tx('span', { class: 'history-text' }, 'account.historyItem',
        { device: deviceVar(parseUserAgent(h.user_agent)), ip, time: { time: h.at } })));
  }
}

async function revokeSession(s, button) {
  button.disabled = true;
  if (s.current) signingOut = true;
  try {
    await socket.request('session.revoke', { session_id: s.session_id });
    if (s.current) {
      phoneTokens.clear('signout');
      showSignin(reasonKey('signout'));
      return;
    }
    loadSessions();
  } catch (err) {
    button.disabled = false;
    signingOut = false;
    setText(els.sessionsStatus, 'account.revokeFailed', { code: err.code });
  }
}

els.reloadSessions.addEventListener('click', loadSessions);

els.logoutAll.addEventListener('click', async () => {
  if (!window.confirm(t('account.logoutAllAsk'))) return;
  els.logoutAll.disabled = true;
  signingOut = true;
  try {
    await socket.request('logout.all');
    phoneTokens.clear('logout_all');
    showSignin(reasonKey('logout_all'));
  } catch (err) {
    signingOut = false;
    setText(els.sessionsStatus, 'account.logoutAllFailed', { code: err.code });
  } finally {
    els.logoutAll.disabled = false;
  }
});

els.signout.addEventListener('click', async (ev) => {
  // Also end the session on the broker, so the refresh token dies with it;
  // the local sign-in is forgotten even if that fails (offline).
  ev.preventDefault();
  signingOut = true;
  const stored = phoneTokens.current();
  if (stored && stored.session_id && authed) {
    try { await socket.request('session.revoke', { session_id: stored.session_id }, { timeout: 3000 }); } catch { /* best effort */ }
  }
  phoneTokens.clear('signout');
  showSignin(reasonKey('signout'));
});

socket.on('session.revoked', (msg) => {
  const stored = phoneTokens.current();
  if (stored && msg.session_id && stored.session_id && msg.session_id !== stored.session_id) return;
  phoneTokens.clear(msg.reason || 'revoked');
  showSignin(signingOut && msg.reason !== 'logout_all' ? reasonKey('signout') : reasonKey(msg.reason || 'revoked'));
});

// "3 min ago" goes stale: re-render the list now and then, and on a switch
// of language (times are formatted in the page's language).
setInterval(() => { if (view === 'account' && lastList) renderSessions(lastList.sessions); }, 60000);
onLangChange(() => {
  if (lastList) { renderSessions(lastList.sessions); renderHistory(lastList.history); }
});

// ---------------------------------------------------------------------------
// connection

socket.onStatus((s) => {
  if (s === 'open') clearText(els.conn);
  else setText(els.conn, s === 'connecting' ? 'conn.connecting' : 'conn.offline');
  els.conn.hidden = s === 'open';
});

socket.onReady(() => {
  // Every (re)connect: the broker forgot this socket's auth; sign in again
  // with the stored token, then the scan (if any) is repeated.
  authenticate();
});

takeTicketFromHash();
if (!phoneTokens.current()) showSignin(null);
socket.start();
