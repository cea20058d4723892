// qrlogin.js — the shared client of the qrlogin pages: one WebSocket wrapper
// (QrSocket) and one token store per role (TokenStore), plus window.qrlogin.
//
// Wire contract: docs/protocol.md (protocol v1). Behaviour and
// storage keys are described in docs/web.md.

const SUBPROTOCOL = 'qrlogin.v1';
const LOCK_NAME = 'qrlogin-refresh';
const CHANNEL_NAME = 'qrlogin';

/** localStorage keys. The PC and the phone keep separate sign-ins because a
 *  single test browser may run both pages side by side. */
export const KEYS = Object.freeze({
  pc: 'qrlogin.pc.tokens',
  phone: 'qrlogin.phone.tokens',
});

// Identifies this tab in BroadcastChannel messages (not a secret).
const tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);

// Refreshes this tab actually sent to the broker; tests read it.
let refreshCount = 0;

/** An Error with the protocol's error code (and retry_after for rate_limited). */
export class QrError extends Error {
  constructor(code, message, retryAfter) {
    super(message || code);
    this.name = 'QrError';
    this.code = code;
    if (retryAfter !== undefined && Number.isFinite(retryAfter)) this.retryAfter = retryAfter;
  }
}

// Codes after which the refresh token is known to be dead, so retrying cannot
// help and the user must sign in again. Anything else (network, timeout,
// internal, rate_limited, 5xx) is treated as transient.
const FATAL_CODES = new Set([
  'invalid_token', 'token_expired', 'session_revoked', 'refresh_reused',
  'unauthorized', 'forbidden', 'bad_request', 'no_tokens',
  'invalid_grant', 'invalid_request', 'http_400', 'http_401', 'http_403',
]);

export function isFatal(err) {
  return !!err && FATAL_CODES.has(err.code);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds to wait after a rate_limited answer: the server's hint plus a
 *  little jitter so several waiters do not come back in the same instant. */
export function retryDelayMs(err, fallbackSeconds = 1) {
  const s = err && Number.isFinite(err.retryAfter) ? err.retryAfter : fallbackSeconds;
  return Math.max(0.2, s) * 1000 + Math.random() * 250;
}

export function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/** Browser and OS from a User-Agent string. Deliberately simple: it is shown
 *  to a person deciding whether a sign-in is theirs, not used for logic. */
export function parseUserAgent(ua) {
  const s = typeof ua === 'string' ? ua : '';
  let browser = '';
  // Order matters: Edge and Chrome UAs also say "Safari", Edge also says "Chrome".
  if (/\bEdg(?:e|A|iOS)?\//.test(s)) browser = 'Edge';
  else if (/\b(?:Chrome|CriOS|Chromium|HeadlessChrome)\//.test(s)) browser = 'Chrome';
  else if (/\b(?:Firefox|FxiOS)\//.test(s)) browser = 'Firefox';
  else if (/\bSafari\//.test(s) && /\bVersion\//.test(s)) browser = 'Safari';
  let os = '';
  // iOS before macOS (iPhone UAs say "like Mac OS X"); Android before Linux.
  if (/\bWindows\b/.test(s)) os = 'Windows';
  else if (/\b(?:iPhone|iPad|iPod)\b/.test(s)) os = 'iOS';
  else if (/\bAndroid\b/.test(s)) os = 'Android';
  else if (/\b(?:Mac OS X|Macintosh)\b/.test(s)) os = 'macOS';
  else if (/\bCrOS\b/.test(s)) os = 'ChromeOS';
  else if (/\b(?:Linux|X11)\b/.test(s)) os = 'Linux';
  // label is English (it is sent to the broker as the PC's client name); pages
  // show a translated form built from browser/os (i18n.js deviceVar).
  const label = browser && os ? `${browser} on ${os}` : browser || os || 'Unknown device';
  return {
    browser: browser || 'Unknown browser', os: os || 'Unknown system', label,
    browserKnown: !!browser, osKnown: !!os,
  };
}

/** "4:05" for 245 s; "1:02:03" past an hour. */
export function formatDuration(seconds) {
  const t = Math.max(0, Math.floor(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

// ---------------------------------------------------------------------------
// BroadcastChannel: the tabs of this origin tell each other about new pairs
// and sign-outs. One channel per tab, shared by all stores (messages carry
// the storage key).

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;
const channelListeners = new Set();
if (channel) {
  channel.onmessage = (ev) => {
    const m = ev.data;
    if (!m || typeof m !== 'object' || m.from === tabId) return;
    for (const fn of channelListeners) fn(m);
  };
}
function post(msg) {
  if (!channel) return;
  try { channel.postMessage({ ...msg, from: tabId }); } catch { /* closed channel: other tabs still see storage events */ }
}

// ---------------------------------------------------------------------------
// QrSocket

/**
 * One WebSocket to the broker with request/reply matching, pushes, and
 * automatic reconnection. Requests made while disconnected wait (up to their
 * timeout) for the next `hello`; requests already sent when the socket drops
 * are rejected with code "disconnected", because the broker forgets per-socket
 * state (tickets, auth) and the page must decide what to re-send — that is what
 * onReady/onReconnect are for.
 */
export class QrSocket {
  constructor(opts = {}) {
    this.url = opts.url || wsUrl();
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.ws = null;
    this.ready = false;        // hello received on the current socket
    this.everReady = false;
    this.stopped = true;
    this.nextId = 1;
    this.pending = new Map();  // id -> {msg, resolve, reject, timer, sent}
    this.queue = [];           // ids waiting for the next hello
    this.handlers = new Map(); // type -> Set(fn)
    this.readyHooks = new Set();
    this.reconnectHooks = new Set();
    this.statusHooks = new Set();
    this.attempt = 0;
    this.retryTimer = 0;
    this.readyAt = 0;
    this.clockOffset = 0;      // server ms - local ms, from hello
    this.heartbeat = 30;       // seconds, from hello
    this.lastTick = performance.now();
    this.status = 'closed';
    this.listening = false;
  }

  /** Server clock estimate in ms since the epoch. */
  serverNow() {
    return Date.now() + this.clockOffset;
  }

  start() {
    if (!this.stopped) return this;
    this.stopped = false;
    this._listen();
    this._open();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
      this._lost();
    }
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  /** fn({reconnect}) after every hello, the first one included. */
  onReady(fn) { this.readyHooks.add(fn); return () => this.readyHooks.delete(fn); }

  /** fn() after every hello except the first: the page re-sends what it needs. */
  onReconnect(fn) { this.reconnectHooks.add(fn); return () => this.reconnectHooks.delete(fn); }

  /** fn(status) with 'connecting' | 'open' | 'closed'. */
  onStatus(fn) { this.statusHooks.add(fn); fn(this.status); return () => this.statusHooks.delete(fn); }

  /**
   * Send {type, id, ...fields}; resolves with the reply carrying the same id,
   * rejects with a QrError (code, retryAfter) on {type:"error"}.
   */
  request(type, fields = {}, opts = {}) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const entry = { msg: { ...fields, type, id }, resolve, reject, timer: 0, sent: false };
      entry.timer = setTimeout(() => {
        this.pending.delete(id);
        const i = this.queue.indexOf(id);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new QrError('timeout', `No answer to ${type}`));
      }, opts.timeout ?? this.timeoutMs);
      this.pending.set(id, entry);
      if (this.ready) this._transmit(id, entry);
      else this.queue.push(id);
    });
  }

  /** Fire and forget; false if not connected. */
  send(type, fields = {}) {
    if (!this.ready || !this.ws) return false;
    try { this.ws.send(JSON.stringify({ ...fields, type })); return true; } catch { return false; }
  }

  /** Reconnect now (for example after the machine slept), skipping backoff. */
  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, 'reconnect'); } catch { /* ignore */ }
      this._lost();
    }
    this.attempt = 0;
    this._open();
  }

  // -- internals --

  _setStatus(s) {
    this.status = s;
    for (const fn of this.statusHooks) { try { fn(s); } catch (e) { console.error(e); } }
  }

  _listen() {
    if (this.listening) return;
    this.listening = true;
    // A page leaving (or entering the back/forward cache) must not keep
    // reconnecting; one restored from the cache reconnects at once.
    addEventListener('pagehide', () => this.stop());
    addEventListener('pageshow', (ev) => { if (ev.persisted) this.start(); });
    addEventListener('online', () => { if (!this.ready) this.reconnectNow(); });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !this.ready && !this.stopped) this.reconnectNow();
    });
    // Browsers answer the broker's WebSocket pings themselves, so page code
    // never sees them. What it can see is a long gap between timer ticks: the
    // machine slept, the broker closed us after 2x heartbeat without pong, and
    // the TCP connection may not know yet. Then reconnect instead of waiting.
    setInterval(() => {
      const now = performance.now();
      const gap = now - this.lastTick;
      this.lastTick = now;
      if (this.ready && gap > (2 * this.heartbeat + 15) * 1000) this.reconnectNow();
    }, 5000);
  }

  _open() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(this.url, SUBPROTOCOL);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    this._setStatus('connecting');
    ws.onmessage = (ev) => { if (this.ws === ws) this._onMessage(ev.data); };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._lost();
      this._scheduleReconnect();
    };
    ws.onerror = () => { /* a close event follows; handled there */ };
  }

  _lost() {
    // A connection that lived a while resets the backoff; one that dies
    // straight after hello (a policy close, say) keeps growing it.
    if (this.ready && performance.now() - this.readyAt > 10000) this.attempt = 0;
    this.ready = false;
    for (const [id, entry] of this.pending) {
      if (!entry.sent) continue;
      clearTimeout(entry.timer);
      this.pending.delete(id);
      entry.reject(new QrError('disconnected', `Connection lost before the answer to ${entry.msg.type}`));
    }
    this._setStatus('closed');
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    // 0.5 s doubling to 15 s, "equal jitter": a random point in [base/2, base]
    // so a broker restart does not get every client back in the same instant.
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this._open(), delay);
  }

  _transmit(id, entry) {
    try {
      this.ws.send(JSON.stringify(entry.msg));
      entry.sent = true;
    } catch {
      // The socket is closing; keep it queued for the next connection.
      this.queue.push(id);
    }
  }

  _onMessage(data) {
    if (typeof data !== 'string') return;
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string') return;

    if (msg.type === 'hello') {
      this._onHello(msg);
      return;
    }
    if (msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const entry = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      clearTimeout(entry.timer);
      if (msg.type === 'error') {
        entry.reject(new QrError(msg.code || 'internal', msg.message || msg.code, Number(msg.retry_after)));
      } else {
        entry.resolve(msg);
      }
      return;
    }
    this._dispatch(msg.type, msg);
    this._dispatch('*', msg);
  }

  _dispatch(type, msg) {
    const set = this.handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try { fn(msg); } catch (e) { console.error(e); }
    }
  }

  _onHello(msg) {
    if (Number.isFinite(msg.server_time)) this.clockOffset = msg.server_time - Date.now();
    if (Number.isFinite(msg.heartbeat) && msg.heartbeat > 0) this.heartbeat = msg.heartbeat;
    this.ready = true;
    this.readyAt = performance.now();
    const reconnect = this.everReady;
    this.everReady = true;
    this._setStatus('open');
    const queued = this.queue.splice(0);
    for (const id of queued) {
      const entry = this.pending.get(id);
      if (entry) this._transmit(id, entry);
    }
    for (const fn of [...this.readyHooks]) { try { fn({ reconnect }); } catch (e) { console.error(e); } }
    if (reconnect) for (const fn of [...this.reconnectHooks]) { try { fn(); } catch (e) { console.error(e); } }
  }
}

// ---------------------------------------------------------------------------
// TokenStore

/**
 * One signed-in role's token pair in localStorage, with refresh that is
 * single-flight inside a tab and serialised across tabs.
 *
 * Stored value (JSON): access_token, refresh_token, token_type, expires_in,
 * refresh_expires_in, session_id, user, received_at, expires_at,
 * refresh_expires_at (the *_at are local wall-clock ms, only for other tabs;
 * this tab schedules from performance.now()).
 */
export class TokenStore {
  constructor(key, opts = {}) {
    this.key = key;
    this.transport = opts.transport || null;  // async (refreshToken) => token response
    this.onSignedOut = opts.onSignedOut || null;
    this.watchSignOut = false;  // react to sign-outs by other tabs (pages opt in)
    this.inflight = null;
    this.latest = null;         // newest pair heard on the channel (storage may lag)
    this.deadline = null;       // {access, at}: performance.now() ms when that access token dies
    this.listeners = new Set();
    this.claims = new Map();    // fallback election: tab -> {at, from}
    this.autoTimer = 0;
    this.auto = false;
    this.signedOutOnce = false;

    addEventListener('storage', (ev) => {
      if (ev.key !== this.key && ev.key !== null) return;
      this._foreignChange(this.read());
    });
    channelListeners.add((m) => this._onChannel(m));
  }

  /** The stored pair, or null. */
  read() {
    try {
      const raw = localStorage.getItem(this.key);
      if (!raw) return null;
      const t = JSON.parse(raw);
      if (!t || typeof t.access_token !== 'string' || typeof t.refresh_token !== 'string') return null;
      return t;
    } catch {
      return null;
    }
  }

  /** The newest pair known to this tab: storage, or a newer one from the
   *  channel if this tab's view of localStorage has not caught up yet. */
  current() {
    const s = this.read();
    const l = this.latest;
    if (l && (!s || (l.received_at || 0) > (s.received_at || 0))) return l;
    return s;
  }

  /** Store a pair from `login`, `auth`, `token`, or the /api/token JSON. */
  save(resp) {
    const prev = this.current();
    const now = Date.now();
    const expiresIn = Number(resp.expires_in) || 0;
    const refreshIn = Number(resp.refresh_expires_in) || 0;
    const t = {
      access_token: resp.access_token,
      refresh_token: resp.refresh_token,
      token_type: resp.token_type || 'Bearer',
      expires_in: expiresIn,
      refresh_expires_in: refreshIn,
      session_id: resp.session_id ?? prev?.session_id ?? null,
      user: resp.user ?? prev?.user ?? null,
      received_at: now,
      expires_at: now + expiresIn * 1000,
      refresh_expires_at: refreshIn ? now + refreshIn * 1000 : prev?.refresh_expires_at ?? null,
    };
    try { localStorage.setItem(this.key, JSON.stringify(t)); } catch { /* quota or disabled storage: memory still works */ }
    this.latest = t;
    this.deadline = { access: t.access_token, at: performance.now() + expiresIn * 1000 };
    this.signedOutOnce = false;
    post({ kind: 'tokens', key: this.key, tokens: t });
    this._changed(t);
    return t;
  }

  /** Update the stored user (for example from a session reply). */
  setUser(user) {
    const t = this.read();
    if (!t || !user) return;
    t.user = user;
    try { localStorage.setItem(this.key, JSON.stringify(t)); } catch { /* ignore */ }
  }

  clear(reason = 'signed_out') {
    try { localStorage.removeItem(this.key); } catch { /* ignore */ }
    this.latest = null;
    this.deadline = null;
    post({ kind: 'cleared', key: this.key, reason });
    this._changed(null);
  }

  /** Calls onSignedOut once per sign-in (several failures may report it). */
  signedOut(reason) {
    if (this.signedOutOnce) return;
    this.signedOutOnce = true;
    if (this.onSignedOut) this.onSignedOut(reason);
  }

  /** Milliseconds the current access token has left (negative once dead). */
  msLeft(t = this.current()) {
    if (!t) return 0;
    if (this.deadline && this.deadline.access === t.access_token) return this.deadline.at - performance.now();
    return (t.expires_at || 0) - Date.now();
  }

  /** The broker told us (session/auth reply) how long this access token lives:
   *  trust it over our own bookkeeping, it does not depend on our clock. */
  noteExpiresIn(access, seconds) {
    if (!Number.isFinite(seconds)) return;
    this.deadline = { access, at: performance.now() + seconds * 1000 };
    this._reschedule();
  }

  /** For the refresh demo: replace the stored access token with one that
   *  looks like a JWT but is expired and unsigned, so the API answers 401. */
  markAccessStale() {
    const t = this.read();
    if (!t) return;
    const b64 = (o) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const header = t.access_token.split('.')[0] || b64({ alg: 'ES256', typ: 'at+jwt' });
    t.access_token = `${header}.${b64({ exp: 1, iat: 0, stale: true })}.c3RhbGU`;
    try { localStorage.setItem(this.key, JSON.stringify(t)); } catch { /* ignore */ }
    if (this.latest) this.latest = { ...this.latest, access_token: t.access_token };
    this._changed(t);
  }

  /** fn(tokens|null) whenever the pair changes, here or in another tab. */
  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  /**
   * Get a fresh pair because `stale` (an access token) was rejected or is about
   * to expire. Single-flight: while one refresh runs, every caller gets the
   * same promise. If the current pair no longer holds `stale`, someone already
   * rotated and no request is made. A fatal failure clears the pair and calls
   * onSignedOut; every waiter is rejected.
   */
  refresh(stale) {
    const cur = this.current();
    if (stale === undefined) stale = cur?.access_token;
    if (this.inflight) return this.inflight;
    if (cur && cur.access_token !== stale) return Promise.resolve(cur);
    this.inflight = this._coordinated(stale)
      .catch((err) => {
        if (isFatal(err)) {
          this.clear(err.code);
          this.signedOut(err.code);
        }
        throw err;
      })
      .finally(() => { this.inflight = null; });
    return this.inflight;
  }

  /** Refresh at 80 % of the access token's life (pages that stay open). */
  startAutoRefresh() {
    this.auto = true;
    this._reschedule();
  }

  // -- internals --

  _coordinated(stale) {
    // Web Locks serialise the tabs; inside the lock storage is re-read, so a
    // tab that queued behind another simply adopts the pair it produced.
    if (typeof navigator !== 'undefined' && navigator.locks && navigator.locks.request) {
      return navigator.locks.request(LOCK_NAME, { mode: 'exclusive' }, () => this._refreshInside(stale));
    }
    return this._electAndRefresh(stale);
  }

  async _refreshInside(stale) {
    for (let attempt = 0; ; attempt++) {
      const cur = this.current();
      if (!cur) throw new QrError('no_tokens', 'Not signed in');
      if (cur.access_token !== stale) return cur; // rotated meanwhile by another tab
      if (!this.transport) throw new QrError('internal', 'No way to refresh tokens here');
      try {
        const pair = await this.transport(cur.refresh_token);
        refreshCount++;
        return this.save(pair);
      } catch (err) {
        // rate_limited: this refresh token was issued moments ago (by us or a
        // tab whose pair we have not seen yet). Wait, then look at storage
        // again before asking; give up after a few rounds.
        if (err && err.code === 'rate_limited' && attempt < 3) {
          await sleep(retryDelayMs(err));
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Without Web Locks: announce a claim on the channel, wait a moment, and
   * let the oldest claim win. Losers wait for the winner's pair (or 5 s, in
   * case the winner's tab died) and then re-read storage. Even if two tabs do
   * race, the broker's refresh_grace hands both the same pair.
   */
  async _electAndRefresh(stale) {
    if (!channel) return this._refreshInside(stale);
    const mine = { at: Date.now(), from: tabId };
    post({ kind: 'claim', key: this.key, at: mine.at });
    await sleep(150 + Math.random() * 100);
    const now = Date.now();
    let rival = false;
    for (const c of this.claims.values()) {
      if (now - c.at < 5000 && (c.at < mine.at || (c.at === mine.at && c.from < mine.from))) rival = true;
    }
    if (rival) await this._waitForChange(stale, 5000);
    try {
      return await this._refreshInside(stale);
    } finally {
      post({ kind: 'claim-done', key: this.key });
    }
  }

  _waitForChange(stale, ms) {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); off(); resolve(); };
      const timer = setTimeout(done, ms);
      const off = this.subscribe((t) => { if (!t || t.access_token !== stale) done(); });
    });
  }

  _onChannel(m) {
    if (m.key !== this.key) return;
    if (m.kind === 'claim') {
      this.claims.set(m.from, { at: m.at, from: m.from });
    } else if (m.kind === 'claim-done') {
      this.claims.delete(m.from);
    } else if (m.kind === 'tokens' && m.tokens && typeof m.tokens.access_token === 'string') {
      this.claims.delete(m.from);
      const s = this.read();
      if (!s || (m.tokens.received_at || 0) >= (s.received_at || 0)) this.latest = m.tokens;
      this._foreignChange(this.current());
    } else if (m.kind === 'cleared') {
      this.latest = null;
      this._foreignChange(this.read());
    }
  }

  _foreignChange(t) {
    if (t && this.deadline && this.deadline.access !== t.access_token) this.deadline = null;
    if (t) this.signedOutOnce = false;
    this._changed(t);
    if (!t && this.watchSignOut) this.signedOut('elsewhere');
  }

  _changed(t) {
    this._reschedule();
    for (const fn of [...this.listeners]) { try { fn(t); } catch (e) { console.error(e); } }
  }

  _reschedule() {
    clearTimeout(this.autoTimer);
    if (!this.auto) return;
    const t = this.current();
    if (!t) return;
    // 80 % of the lifetime the broker gave (relative seconds), so a wrong
    // wall clock on this machine does not shift the schedule.
    const life = (t.expires_in || 0) * 1000;
    const delay = Math.max(0, this.msLeft(t) - 0.2 * life);
    const access = t.access_token;
    this.autoTimer = setTimeout(() => {
      this.refresh(access).catch((err) => {
        if (!isFatal(err)) this.autoTimer = setTimeout(() => this._reschedule(), 10000);
      });
    }, delay);
  }
}

// ---------------------------------------------------------------------------
// PC tokens, /api/token, and the authenticated fetch

/*
 * The PC refreshes over HTTP (POST /api/token), not over the socket: a 401
 * from fetch() must be recoverable while the socket is down or reconnecting,
 * the request is plain RFC 6749 so it needs no protocol state (no auth on the
 * socket, no message ids), and a Web Lock callback can finish without
 * depending on the socket's reconnect timing.
 */
async function httpRefresh(refreshToken) {
  let res;
  try {
    res = await fetch('/api/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch {
    throw new QrError('network', 'Could not reach the server');
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.ok && body && typeof body.access_token === 'string' && typeof body.refresh_token === 'string') return body;
  const code = (body && typeof body.error === 'string' && body.error)
    || (res.status === 429 ? 'rate_limited' : res.status >= 500 ? 'internal' : `http_${res.status}`);
  let retry = Number(body?.retry_after);
  if (!Number.isFinite(retry)) retry = Number(res.headers.get('Retry-After'));
  throw new QrError(code, body?.error_description || body?.message || `Token refresh failed (${res.status})`,
    Number.isFinite(retry) ? retry : undefined);
}

export const pcTokens = new TokenStore(KEYS.pc, {
  transport: httpRefresh,
  onSignedOut: () => location.assign('/'),
});

/** The phone's sign-in. Its transport (token.refresh over the socket) is set
 *  by phone.js, which owns that socket. */
export const phoneTokens = new TokenStore(KEYS.phone, {});

function withBearer(input, init, token) {
  const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
  headers.set('Authorization', `Bearer ${token}`);
  return { ...init, headers };
}

/**
 * fetch() with the PC's access token. On 401 + invalid_token it refreshes once
 * (shared with every concurrent caller) and retries once with the new token.
 * Bodies must be re-sendable (strings, URLSearchParams, Blob, FormData).
 */
export async function authFetch(input, init = {}) {
  const t = pcTokens.current();
  if (!t) {
    pcTokens.signedOut('no_tokens');
    throw new QrError('no_tokens', 'Not signed in');
  }
  const first = await fetch(input, withBearer(input, init, t.access_token));
  if (first.status !== 401 || !/invalid_token/i.test(first.headers.get('WWW-Authenticate') || '')) return first;
  const fresh = await pcTokens.refresh(t.access_token);
  return fetch(input, withBearer(input, init, fresh.access_token));
}

/** session.revoked for our session → forget the pair and leave. */
export function signOutOnRevoke(socket, store) {
  return socket.on('session.revoked', (m) => {
    const t = store.current();
    if (t && m.session_id && t.session_id && m.session_id !== t.session_id) return;
    store.clear(m.reason || 'revoked');
    store.signedOut(m.reason || 'revoked');
  });
}

const api = {
  fetch: authFetch,
  refresh: (stale) => pcTokens.refresh(stale),
  get refreshCount() { return refreshCount; },
  tokens: pcTokens,
  phoneTokens,
  keys: KEYS,
  QrSocket,
  QrError,
  parseUserAgent,
  socket: null, // the page's socket, set by the page script
};
window.qrlogin = api;
export default api;
