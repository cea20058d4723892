// The soak's mixed workload. One actor per user, all running at once, each doing in a loop
// what a person with a phone and a few browser tabs does:
//   - a PC login by QR (ticket.new on a PC socket, ticket.scan + ticket.confirm from the
//     phone, `login` pushed to the PC), then one or two more "tabs" attached to the session;
//   - refresh rounds: the session's current refresh token (shared by its tabs, as in
//     localStorage) sent by 1-3 tabs at once — deliberate concurrent duplicates — over the
//     socket or POST /api/token, on any node;
//   - a tab's socket dropped (closed or torn down) and reconnected with session.attach;
//   - session.revoke of one web session, and now and then logout.all, from the phone.
// Requests whose fate is unknown (internal, a close, silence) are retried with the same
// token inside the grace window, as a careful client would; nothing here judges outcomes.
import { ANSWER_BOUND_MS } from './audit.mjs';
import { SoakSocket } from './client.mjs';
import { digest, refreshOutcome, tick } from './history.mjs';
import { sleep } from '../blackbox/harness.mjs';
import { request } from './http.mjs';

const MAX_SESSIONS = 3;
const REFRESH_SPACING_MS = 1100;   // just over the brokers' --refresh-interval 1
const RETRY_WINDOW_MS = 7000;      // well inside the default 10 s refresh grace
const RETRY_PAUSE_MS = 300;

const pick = (a) => a[Math.floor(Math.random() * a.length)];
const chance = (p) => Math.random() < p;

function pickNode(topo) {
  const up = topo.nodes.filter((n) => !n.down);
  return pick(up.length ? up : topo.nodes);
}

class Actor {
  constructor(topo, history, [user, password], stopping) {
    this.topo = topo;
    this.h = history;
    this.user = user;
    this.password = password;
    this.stopping = stopping;
    this.phone = null;
    this.sessions = [];   // {sid, refresh, access, tabs: [SoakSocket], lastRotation, dead}
  }

  watch(sock, s) {
    sock.onPush = (f) => {
      if (f.type !== 'session.revoked') return;
      this.h.pushes.push({ sid: f.session_id, reason: f.reason, at: tick() });
      const gone = this.sessions.find((x) => x.sid === f.session_id);
      if (gone) gone.dead = true;
      if (this.phone && sock === this.phone.sock && f.session_id === this.phone.sid) this.phone.dead = true;
    };
    if (s) s.tabs.push(sock);
  }

  async ensurePhone() {
    if (this.phone && !this.phone.dead && this.phone.sock.open) return true;
    if (this.phone) this.phone.sock.close();
    this.phone = null;
    const sock = await SoakSocket.open(pickNode(this.topo), this.h);
    if (!sock) return false;
    const r = await sock.request({ type: 'auth.password', username: this.user, password: this.password });
    if (r.outcome !== 'answer' || r.frame.type !== 'auth') { sock.close(); return false; }
    this.h.logins.push({ sid: r.frame.session_id, user: this.user, kind: 'app', at: r.at, node: sock.node.label, afterScrape: r.afterScrape });
    this.phone = { sock, sid: r.frame.session_id, dead: false };
    this.watch(sock, null);
    return true;
  }

  async login() {
    if (!await this.ensurePhone()) return;
    const pc = await SoakSocket.open(pickNode(this.topo), this.h, { ua: 'Mozilla/5.0 qrlogin-soak-pc/1.0' });
    if (!pc) return;
    const t = await pc.request({ type: 'ticket.new', client: { name: 'soak' } });
    if (t.outcome !== 'answer' || t.frame.type !== 'ticket') { pc.close(); return; }
    const phone = this.phone.sock;
    const scan = await phone.request({ type: 'ticket.scan', ticket: t.frame.ticket });
    if (scan.outcome !== 'answer' || scan.frame.type !== 'ticket.info') { pc.close(); return; }
    const msg = { type: 'ticket.confirm', ticket: t.frame.ticket };
    if (t.frame.code) msg.code = t.frame.code;
    const ok = await phone.request(msg);
    let login;
    if (ok.outcome === 'answer' && ok.frame.type === 'ok') {
      // An acknowledged confirm promises a `login` to the PC.
      login = await pc.expectPush('login');
      if (login.outcome !== 'answer') {
        this.h.confirmsWithoutLogin += 1;
        pc.close();
        return;
      }
    } else if (ok.outcome === 'answer' && ok.frame.code !== 'internal') {
      pc.close(); // refused: no session
      return;
    } else {
      // `internal`, a close or silence: the session may have been made and pushed. A PC
      // that got `login` has an acknowledged session like any other.
      const pushed = pc.unclaimed.get('login');
      if (!pushed) {
        this.h.confirmsUnknown += 1;
        pc.close();
        return;
      }
      pc.unclaimed.delete('login');
      login = { outcome: 'answer', frame: pushed, at: ok.at, afterScrape: pc.afterScrape };
    }
    const f = login.frame;
    this.h.logins.push({ sid: f.session_id, user: this.user, kind: 'web', at: login.at, node: pc.node.label, afterScrape: login.afterScrape });
    const s = { sid: f.session_id, refresh: f.refresh_token, access: f.access_token, tabs: [], lastRotation: Date.now(), dead: false };
    this.sessions.push(s);
    this.watch(pc, s);
    const more = 1 + Math.floor(Math.random() * 2);
    for (let i = 0; i < more; i += 1) await this.openTab(s);
  }

  async openTab(s) {
    const sock = await SoakSocket.open(pickNode(this.topo), this.h);
    if (!sock) return;
    this.watch(sock, s);
    const r = await sock.request({ type: 'session.attach', access_token: s.access });
    if (r.outcome !== 'answer' || r.frame.type !== 'session') {
      s.tabs.splice(s.tabs.indexOf(sock), 1);
      sock.close();
    }
  }

  /** One refresh of s with `presented`, over a tab's socket or POST /api/token. */
  async refreshOnce(s, presented, tab) {
    let r;
    let node;
    let via;
    if (tab && tab.open) {
      node = tab.node;
      via = 'ws';
      r = await tab.request({ type: 'token.refresh', refresh_token: presented });
    } else {
      node = pickNode(this.topo);
      via = 'http';
      r = await this.httpRefresh(node, presented);
    }
    const o = refreshOutcome(r);
    this.h.refreshes.push({ sid: s.sid, presented: digest(presented), via, node: node.label, sentAt: r.sentAt, answeredAt: r.at, afterScrape: r.afterScrape, ...o });
    return { ...o, frame: r.frame };
  }

  async httpRefresh(node, presented) {
    const rec = { type: 'POST /api/token', node: node.label, sentAt: tick(), doneAt: 0, outcome: '', code: '' };
    this.h.requests.push(rec);
    const gen = node.gen;
    let frame;
    try {
      const res = await request(`${node.url}/api/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: presented }).toString(),
        timeoutMs: ANSWER_BOUND_MS,
      });
      try { frame = JSON.parse(res.body); } catch { frame = { error: `HTTP ${res.status}, not JSON` }; }
      if (frame.error) { frame.type = 'error'; frame.code = frame.error; rec.code = frame.error; }
      rec.outcome = 'answer';
    } catch (e) {
      // a reset or refused connection is the HTTP form of a close
      rec.outcome = e.code === 'ETIMEDOUT' ? 'unanswered' : 'closed';
    }
    rec.doneAt = tick();
    rec.afterScrape = node.scrapedGen === gen;
    return { outcome: rec.outcome, frame, sentAt: rec.sentAt, at: rec.doneAt, afterScrape: node.scrapedGen === gen };
  }

  async refreshRound(s) {
    const wait = s.lastRotation + REFRESH_SPACING_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const presented = s.refresh;
    const first = Date.now();
    const dup = 1 + Math.floor(Math.random() * 3);
    const tabs = s.tabs.filter((t) => t.open);
    const sends = [];
    for (let i = 0; i < dup; i += 1) {
      sends.push(this.refreshOnce(s, presented, chance(0.2) ? null : tabs[i % Math.max(tabs.length, 1)]));
    }
    let results = await Promise.all(sends);
    for (;;) {
      const pair = results.find((x) => x.outcome === 'pair');
      if (pair) {
        s.refresh = pair.frame.refresh_token;
        s.access = pair.frame.access_token;
        s.lastRotation = Date.now();
        return;
      }
      if (results.some((x) => ['session_revoked', 'refresh_reused', 'invalid_token', 'token_expired'].includes(x.outcome))) {
        s.dead = true;
        return;
      }
      const limited = results.find((x) => x.outcome === 'rate_limited');
      if (limited && results.every((x) => x.outcome === 'rate_limited')) {
        s.lastRotation = Date.now() + 1000 * ((limited.frame && limited.frame.retry_after) || 1) - REFRESH_SPACING_MS;
        return;
      }
      // internal, a close, silence: the rotation may or may not have happened; ask again
      // with the same token while the grace window still answers the same pair.
      if (Date.now() - first > RETRY_WINDOW_MS || this.stopping.now) {
        s.dead = true;
        s.abandoned = true;
        return;
      }
      await sleep(RETRY_PAUSE_MS);
      const tab = s.tabs.find((t) => t.open);
      results = [await this.refreshOnce(s, presented, tab)];
    }
  }

  async dropTab(s) {
    const tab = pick(s.tabs);
    s.tabs.splice(s.tabs.indexOf(tab), 1);
    if (chance(0.5)) tab.terminate(); else tab.close();
    await this.openTab(s);
  }

  async revoke(s) {
    if (!await this.ensurePhone()) return;
    const sentAt = tick();
    this.h.revokes.push({ sid: s.sid, user: this.user, sentAt, ackAt: 0, outcome: 'pending' });
    const rec = this.h.revokes[this.h.revokes.length - 1];
    const r = await this.phone.sock.request({ type: 'session.revoke', session_id: s.sid });
    rec.ackAt = r.at;
    rec.outcome = r.outcome === 'answer' ? (r.frame.type === 'ok' ? 'ok' : r.frame.code) : r.outcome;
    if (rec.outcome === 'ok') {
      s.dead = true;
      // A stale tab that missed the news tries its token: it must be refused.
      if (chance(0.7)) await this.refreshOnce(s, s.refresh, s.tabs.find((t) => t.open));
    }
  }

  async logoutAll() {
    if (!await this.ensurePhone()) return;
    const rec = { user: this.user, sentAt: tick(), ackAt: 0, outcome: 'pending' };
    this.h.logoutAlls.push(rec);
    const r = await this.phone.sock.request({ type: 'logout.all' });
    rec.ackAt = r.at;
    rec.outcome = r.outcome === 'answer' ? (r.frame.type === 'ok' ? 'ok' : r.frame.code) : r.outcome;
    if (rec.outcome === 'ok') {
      for (const s of this.sessions) s.dead = true;
      this.phone.dead = true;
      const s = pick(this.sessions);
      if (s) await this.refreshOnce(s, s.refresh, s.tabs.find((t) => t.open));
    }
  }

  reap() {
    for (const s of this.sessions.filter((x) => x.dead)) for (const t of s.tabs) t.close();
    this.sessions = this.sessions.filter((x) => !x.dead);
  }

  async step() {
    this.reap();
    const live = this.sessions;
    const r = Math.random();
    if (live.length === 0 || (live.length < MAX_SESSIONS && r < 0.15)) return this.login();
    const s = pick(live);
    if (r < 0.70) return this.refreshRound(s);
    if (r < 0.85) return s.tabs.length ? this.dropTab(s) : this.openTab(s);
    if (r < 0.97) return this.revoke(s);
    return this.logoutAll();
  }

  async run() {
    while (!this.stopping.now) {
      try {
        await this.step();
      } catch (e) {
        // A bug of the driver, not of the broker: counted, reported, and it fails the run.
        this.h.driverErrors = (this.h.driverErrors || 0) + 1;
        console.error(`soak: actor ${this.user}: ${e.stack || e}`);
      }
      await sleep(20 + Math.random() * 130);
    }
  }

  closeAll() {
    for (const s of this.sessions) for (const t of s.tabs) t.close();
    if (this.phone) this.phone.sock.close();
  }
}

/**
 * Run the workload against topo until stop() is called; resolves after every actor has
 * finished its current step and closed its sockets.
 */
export function startLoad(topo, history, users) {
  const stopping = { now: false };
  const actors = users.map((u) => new Actor(topo, history, u, stopping));
  const done = Promise.all(actors.map((a) => a.run()));
  return {
    async stop() {
      stopping.now = true;
      await done;
      for (const a of actors) a.closeAll();
    },
  };
}
