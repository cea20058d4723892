// app.js — the page a PC lands on after login: attaches its socket to the
// session (so a revoke from the phone reaches it at once), shows the user and
// the access token's remaining life, logs out, and runs the refresh demo.

import { QrSocket, pcTokens, signOutOnRevoke, formatDuration, isFatal, sleep, retryDelayMs } from './qrlogin.js';
import { setText, clearText } from './i18n.js';

const qrlogin = window.qrlogin;
const $ = (id) => document.getElementById(id);
const els = {
  user: $('user'),
  ttl: $('token-ttl'),
  sid: $('session-id'),
  count: $('refresh-count'),
  conn: $('conn'),
  logout: $('logout'),
  burst: $('burst'),
  burstResult: $('burst-result'),
  burstDetail: $('burst-detail'),
};

let leaving = false;
function goLogin() {
  if (leaving) return;
  leaving = true;
  location.assign('/');
}

const initial = pcTokens.current();
if (!initial) {
  goLogin();
} else {
  start(initial);
}

function showTokens(t) {
  if (!t) return;
  if (t.user && t.user.name) els.user.textContent = t.user.name;
  if (t.session_id) els.sid.textContent = t.session_id;
}

function tick() {
  const t = pcTokens.current();
  if (t) {
    const s = Math.max(0, Math.round(pcTokens.msLeft(t) / 1000));
    if (s > 0) { clearText(els.ttl); els.ttl.textContent = formatDuration(s); } else setText(els.ttl, 'app.expired');
    els.ttl.dataset.seconds = String(s);
  }
  els.count.textContent = String(qrlogin.refreshCount);
}

function start(t) {
  // A sign-out in another tab (or a failed refresh) sends this one to login.
  pcTokens.onSignedOut = goLogin;
  pcTokens.watchSignOut = true;
  pcTokens.subscribe((next) => { showTokens(next); tick(); });
  pcTokens.startAutoRefresh();
  showTokens(t);
  tick();
  setInterval(tick, 1000);

  const socket = new QrSocket();
  qrlogin.socket = socket;
  signOutOnRevoke(socket, pcTokens);

  socket.onStatus((s) => {
    setText(els.conn, s === 'open' ? 'conn.live' : s === 'connecting' ? 'conn.connecting' : 'conn.offline');
    els.conn.dataset.state = s;
  });

  // First connect and every reconnect: a new socket is attached to nothing.
  socket.onReady(() => { attach(socket).catch(() => { /* reported inside */ }); });

  els.logout.addEventListener('click', () => logout(socket));
  els.burst.addEventListener('click', burst);
  socket.start();
}

/**
 * session.attach with the current access token. An expired one is refreshed
 * first; one the broker rejects is refreshed once and tried again.
 */
async function attach(socket) {
  let t = pcTokens.current();
  if (!t) return goLogin();
  try {
    if (pcTokens.msLeft(t) <= 0) t = await pcTokens.refresh(t.access_token);
    let reply;
    for (let round = 0; ; round++) {
      try {
        reply = await socket.request('session.attach', { access_token: t.access_token });
        break;
      } catch (err) {
        if ((err.code === 'token_expired' || err.code === 'invalid_token') && round === 0) {
          t = await pcTokens.refresh(t.access_token);
          continue;
        }
        if (err.code === 'rate_limited' && round < 3) {
          await sleep(retryDelayMs(err));
          continue;
        }
        throw err;
      }
    }
    if (reply.user) {
      pcTokens.setUser(reply.user);
      if (reply.user.name) els.user.textContent = reply.user.name;
    }
    if (reply.session_id) els.sid.textContent = reply.session_id;
    if (Number.isFinite(reply.expires_in)) pcTokens.noteExpiresIn(t.access_token, reply.expires_in);
  } catch (err) {
    if (isFatal(err) || err.code === 'session_revoked') {
      pcTokens.clear(err.code);
      goLogin();
    }
    // Transient (disconnected, timeout): the next hello attaches again.
    throw err;
  }
}

async function logout(socket) {
  els.logout.disabled = true;
  try {
    // Revokes the session on the broker; the page leaves either way.
    await socket.request('logout', {}, { timeout: 5000 });
  } catch {
    /* offline or already revoked: forgetting the tokens locally still signs this browser out */
  }
  pcTokens.clear('logout');
  goLogin();
}

async function burst() {
  els.burst.disabled = true;
  setText(els.burstResult, 'app.running');
  delete els.burstResult.dataset.calls;
  delete els.burstResult.dataset.refreshes;
  clearText(els.burstDetail);
  const before = qrlogin.refreshCount;
  // Make the demo meaningful: every call now starts with a stale token and
  // gets 401, so the client has to refresh — once, shared by all five.
  pcTokens.markAccessStale();
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => qrlogin.fetch('/api/me', { cache: 'no-store' })),
  );
  const spent = qrlogin.refreshCount - before;
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.ok).length;
  setText(els.burstResult, 'app.burstResult', { calls: 5, n: spent });
  els.burstResult.dataset.calls = '5';
  els.burstResult.dataset.refreshes = String(spent);
  els.burstResult.dataset.ok = String(ok);
  if (ok === 5) setText(els.burstDetail, 'app.burstAllOk');
  else setText(els.burstDetail, 'app.burstSome', { ok });
  const first = results.find((r) => r.status === 'fulfilled' && r.value.ok);
  if (first) {
    try {
      const me = await first.value.json();
      if (me && me.name) els.user.textContent = me.name;
    } catch { /* body not JSON: nothing to show */ }
  }
  tick();
  els.burst.disabled = false;
}
