// The brokers a soak runs against: one node on its SQLite file, or three nodes on one Redis
// sharing a keys directory and a public URL (so a token issued by one verifies on the
// others). Clients talk to the nodes directly — no proxy — so every answer is known to
// come from one process, which the metrics check needs.
//
// Each node keeps a generation number that goes up when it is killed and started again,
// and `scrapedGen`: the generation whose counters were scraped right before its SIGKILL.
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker, runCli, freePort, sleep, PBKDF2 } from '../blackbox/harness.mjs';
import { startRedis } from '../blackbox/redis.mjs';
import { request } from './http.mjs';

// A refresh every second per session keeps rotations (and their races) frequent; the
// grace window stays the default, which the clients' retries are sized against.
const COMMON_ARGS = ['--refresh-interval', '1', '--max-conns-per-ip', '4096', '--log-level', 'info'];

/** Up to 40 accounts, one actor each; the first --users of them are created and used. */
export const USERS = Array.from({ length: 40 }, (_, i) => [`soak-u${i}`, `soak-pw-${i}`]);

class Node {
  constructor(index, broker, logDir, label) {
    this.index = index;
    this.broker = broker;
    this.gen = 0;
    this.scrapedGen = -1;
    this.down = false;   // killed and not yet back
    this.label = label;
    this.log = createWriteStream(path.join(logDir, `${label}.log`), { flags: 'a' });
    // The harness keeps every stderr line in memory; a long soak moves them to a file.
    this.drain = setInterval(() => this.flushLog(), 1000);
  }

  flushLog() {
    const b = this.broker;
    if (b.lines.length) this.log.write(`${b.lines.splice(0).join('\n')}\n`);
  }

  get pid() { return this.broker.proc ? this.broker.proc.pid : 0; }
  get wsUrl() { return `ws://127.0.0.1:${this.broker.port}/ws`; }
  get url() { return `http://127.0.0.1:${this.broker.port}`; }

  async kill() {
    this.down = true;
    await this.broker.kill();
    this.gen += 1;
  }

  /** Start again on the same port (its URL is in clients' hands). */
  async respawn() {
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        await this.broker.spawnOn(this.broker.port);
        break;
      } catch (e) {
        this.broker.expectExit = true;
        if (this.broker.proc && this.broker.proc.exitCode === null) this.broker.proc.kill('SIGKILL');
        await this.broker.exitPromise;
        if (Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
    this.down = false;
  }

  async dispose() {
    clearInterval(this.drain);
    try { await this.broker.dispose(); } finally {
      this.flushLog();
      this.log.end();
    }
  }
}

/** GET /metrics of one node, parsed to {name{labels}: value}. */
export async function scrape(node, timeoutMs = 5000) {
  const r = await request(`${node.url}/metrics`, { timeoutMs });
  if (r.status !== 200) throw new Error(`/metrics of ${node.label}: ${r.status}`);
  const out = {};
  for (const line of r.body.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** RSS (bytes) and open descriptors of a live process, from /proc. */
export function sampleProcess(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  return { rss: kb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

export async function startSingle(logDir, users) {
  const broker = await startBroker({ single: true, args: COMMON_ARGS, users });
  const t = {
    kind: 'single',
    nodes: [new Node(0, broker, logDir, 'single-node0')],
    dataDir: broker.dataDir,
    async keygen() {
      const r = await runCli(['keygen', '--data-dir', broker.dataDir]);
      if (r.code !== 0) throw new Error(`keygen: ${r.stderr}`);
    },
    async dispose() { await t.nodes[0].dispose(); },
  };
  return t;
}

export async function startCluster(logDir, users, size = 3) {
  const redis = await startRedis({ aof: true });
  const keysDir = mkdtempSync(path.join(tmpdir(), 'qrlogin-soak-keys-'));
  // Created once before any node starts (docs/cluster.md: nodes must not race to create it).
  const kg = await runCli(['keygen', '--keys-dir', keysDir]);
  if (kg.code !== 0) throw new Error(`keygen: ${kg.stderr}`);
  const publicUrl = `http://127.0.0.1:${await freePort()}`;
  const args = [...COMMON_ARGS, '--store', redis.url, '--keys-dir', keysDir, '--public-url', publicUrl];
  const nodes = [];
  for (let i = 0; i < size; i += 1) {
    nodes.push(new Node(i, await startBroker({ single: true, args }), logDir, `cluster-node${i}`));
  }
  for (const [name, pw] of users) {
    const r = await runCli(['useradd', '--store', redis.url, ...PBKDF2, name], { input: `${pw}\n` });
    if (r.code !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  }
  const t = {
    kind: 'cluster',
    nodes,
    redis,
    keysDir,
    async keygen() {
      const r = await runCli(['keygen', '--keys-dir', keysDir]);
      if (r.code !== 0) throw new Error(`keygen: ${r.stderr}`);
    },
    async dispose() {
      try {
        for (const n of nodes) await n.dispose();
      } finally {
        await redis.dispose();
        rmSync(keysDir, { recursive: true, force: true });
      }
    },
  };
  return t;
}
