// QRLOGIN_BB_CLUSTER=1 turns startBroker() into this: a redis-server, two broker nodes
// sharing it, one keys directory and one public URL, and a TCP proxy in front that hands
// each new connection to the next node in turn — so the protocol suites (ticket, auth,
// session, refresh, frames) run with every PC, phone and HTTP client spread over two nodes,
// unchanged. CTest registers that run as blackbox_cluster_protocol.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { freePort, runCli, startBroker, PBKDF2 } from './harness.mjs';
import { startRedis } from './redis.mjs';

function startProxy(port) {
  const proxy = { targets: [], next: 0, sockets: new Set() };
  proxy.server = createServer((client) => {
    const target = proxy.targets[proxy.next++ % proxy.targets.length];
    const upstream = netConnect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      proxy.sockets.add(s);
      s.on('close', () => proxy.sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  proxy.server.unref(); // the test file ends when its tests do
  return new Promise((resolve, reject) => {
    proxy.server.once('error', reject);
    proxy.server.listen(port, '127.0.0.1', () => resolve(proxy));
  });
}

class ClusterBroker {
  constructor(opts) {
    this.opts = opts;
    this.nodes = [];
  }

  get url() { return `http://127.0.0.1:${this.port}`; }
  get wsUrl() { return `ws://127.0.0.1:${this.port}/ws`; }
  get ca() { return undefined; }
  get dataDir() { return this.nodes[0].dataDir; }
  log() { return this.nodes.map((n, i) => `--- node ${i} ---\n${n.log()}`).join('\n'); }

  nodeArgs(extra) {
    return ['--store', this.redis.url, '--keys-dir', this.keysDir, '--public-url', this.url,
      ...extra];
  }

  async start() {
    this.redis = await startRedis({ aof: true });
    this.redis.proc.unref();
    this.keysDir = mkdtempSync(path.join(tmpdir(), 'qrlogin-keys-'));
    // stopAll() disposes the nodes only: the rest goes when the test file ends
    process.once('exit', () => {
      rmSync(this.keysDir, { recursive: true, force: true });
      rmSync(this.redis.dir, { recursive: true, force: true });
    });
    this.port = await freePort();
    this.proxy = await startProxy(this.port);
    // One after the other: the first creates the keys the second loads.
    for (let i = 0; i < 2; i += 1) {
      this.nodes.push(await startBroker({ ...this.opts, single: true, users: [],
        args: this.nodeArgs(this.opts.args || []) }));
    }
    this.proxy.targets = this.nodes.map((n) => n.port);
    for (const [name, pw] of this.opts.users || []) {
      const r = await runCli(['useradd', '--store', this.redis.url, ...PBKDF2, name],
        { input: `${pw}\n` });
      assert.equal(r.code, 0, `useradd ${name} over Redis: ${r.stdout}${r.stderr}`);
    }
    return this;
  }

  async stop(opts) {
    let res;
    for (const n of this.nodes) res = await n.stop(opts);
    return res;
  }

  async kill() { for (const n of this.nodes) await n.kill(); }

  async restart({ between, args } = {}) {
    for (const n of this.nodes) await n.stop();
    if (between) await between(this);
    for (const n of this.nodes) {
      await n.restart({ args: args ? this.nodeArgs(args) : undefined });
    }
  }

  async dispose() {
    try {
      for (const n of this.nodes) await n.dispose();
    } finally {
      for (const s of this.proxy.sockets) s.destroy();
      this.proxy.server.close();
      await this.redis.dispose();
      rmSync(this.keysDir, { recursive: true, force: true });
    }
  }
}

export async function startClusterBroker(opts) {
  return new ClusterBroker(opts).start();
}
