// A soak client socket: every request is recorded in the history with its fate — an answer
// (whatever it says), a close before the answer, or silence past ANSWER_BOUND_MS — and never
// throws, because under faults every one of those is expected; only the audit judges.
import { connect, sleep } from '../blackbox/harness.mjs';
import { ANSWER_BOUND_MS } from './audit.mjs';
import { tick } from './history.mjs';

export class SoakSocket {
  /**
   * Open a socket to `node`, retrying (the node may be down for a fault) until `deadline`.
   * Resolves null when it could not.
   */
  static async open(node, history, { ua = 'qrlogin-soak/1.0', deadline = Date.now() + ANSWER_BOUND_MS } = {}) {
    for (;;) {
      if (!node.down) {
        try {
          const c = await connect(node.wsUrl, { headers: { 'User-Agent': ua } });
          return new SoakSocket(c, node, history);
        } catch { /* refused, reset or no hello: the node is faulted */ }
      }
      if (Date.now() > deadline) return null;
      await sleep(200);
    }
  }

  constructor(client, node, history) {
    this.ws = client.ws;
    this.node = node;
    this.gen = node.gen;
    this.history = history;
    this.pending = new Map();
    this.pushWaiters = [];
    this.nextId = 1;
    this.onPush = null;
    this.unclaimed = new Map(); // push type -> the last such push nobody waited for yet
    this.open = true;
    // Take the socket over from the harness client (its frame log grows without bound).
    this.ws.removeAllListeners('message');
    for (const f of client.queue) this.onFrame(f);
    this.ws.on('message', (data) => {
      let f;
      try { f = JSON.parse(data.toString('utf8')); } catch { f = { type: '__invalid_json__' }; }
      this.onFrame(f);
    });
    client.closed.then(() => this.onClose());
  }

  /** Answers that arrive after the node's last scrape before a SIGKILL escape its counters. */
  get afterScrape() { return this.node.scrapedGen === this.gen; }

  onFrame(f) {
    if (f.id !== undefined && this.pending.has(f.id)) {
      const p = this.pending.get(f.id);
      this.pending.delete(f.id);
      p.done('answer', f);
      return;
    }
    if (this.onPush) this.onPush(f);
    for (let i = 0; i < this.pushWaiters.length; i += 1) {
      if (this.pushWaiters[i].type === f.type) {
        this.pushWaiters.splice(i, 1)[0].done('answer', f);
        return;
      }
    }
    this.unclaimed.set(f.type, f);
  }

  onClose() {
    this.open = false;
    for (const p of this.pending.values()) p.done('closed');
    this.pending.clear();
    for (const w of this.pushWaiters.splice(0)) w.done('closed');
  }

  track(type, register) {
    const rec = { type, node: this.node.label, sentAt: tick(), doneAt: 0, outcome: '', code: '' };
    this.history.requests.push(rec);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('unanswered'), ANSWER_BOUND_MS);
      const finish = (outcome, frame) => {
        if (rec.outcome) return;
        clearTimeout(timer);
        rec.outcome = outcome;
        rec.doneAt = tick();
        rec.afterScrape = this.afterScrape;
        if (frame && frame.type === 'error') rec.code = frame.code;
        resolve({ outcome, frame, sentAt: rec.sentAt, at: rec.doneAt, afterScrape: this.afterScrape });
      };
      register(finish);
    });
  }

  /** Send a request; resolves {outcome: 'answer'|'closed'|'unanswered', frame, sentAt, at}. */
  request(obj) {
    const id = this.nextId;
    this.nextId += 1;
    return this.track(obj.type, (finish) => {
      if (!this.open) { finish('closed'); return; }
      this.pending.set(id, { done: finish });
      try { this.ws.send(JSON.stringify({ ...obj, id })); } catch { finish('closed'); }
    });
  }

  /** Wait for a push that a request acknowledged (the `login` after a confirm): tracked the same way. */
  expectPush(type) {
    return this.track(`push ${type}`, (finish) => {
      if (this.unclaimed.has(type)) {
        const f = this.unclaimed.get(type);
        this.unclaimed.delete(type);
        finish('answer', f);
        return;
      }
      if (!this.open) { finish('closed'); return; }
      this.pushWaiters.push({ type, done: finish });
    });
  }

  close() {
    this.open = false;
    try { this.ws.close(1000); } catch { /* already closing */ }
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* gone */ }
  }
}
