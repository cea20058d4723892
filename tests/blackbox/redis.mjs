// A throw-away redis-server for the cluster tests (Debian's package, installed by the README's
// commands): loopback only, a free port, its own directory, AOF on by default (what the
// cluster docs ask operators to run), killed when the test process exits.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, sleep } from './harness.mjs';

export const REDIS_SERVER = process.env.QRLOGIN_REDIS_SERVER || '/usr/bin/redis-server';

const running = new Set();
process.on('exit', () => {
  for (const r of running) {
    try { r.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** One RESP command over a fresh socket; resolves the raw reply text. */
export function redisCommand(port, args, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('redis timeout')); }, timeoutMs);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('data', (d) => {
      buf += d;
      if (buf.endsWith('\r\n')) { clearTimeout(timer); sock.end(); resolve(buf); }
    });
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}

export class Redis {
  constructor({ aof = true } = {}) {
    this.aof = aof;
    this.dir = mkdtempSync(path.join(tmpdir(), 'qrlogin-redis-'));
    this.port = 0;
    this.proc = null;
  }

  get url() { return `redis://127.0.0.1:${this.port}/0`; }

  async start(port) {
    this.port = port || this.port || await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', this.aof ? 'yes' : 'no', '--appendfsync', 'always',
      '--logfile', path.join(this.dir, 'redis.log')];
    this.proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    running.add(this);
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      try {
        if ((await redisCommand(this.port, ['PING'])).startsWith('+PONG')) return this;
      } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`redis-server did not answer on ${this.port}`);
  }

  /** Stops it (SIGTERM: AOF flushed) and waits for the exit. */
  async stop(signal = 'SIGTERM') {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    running.delete(this);
    if (p.exitCode === null && p.signalCode === null) {
      p.ref(); // it may have been unref'd (as_cluster.mjs): wait for it all the same
      await new Promise((resolve) => { p.once('exit', resolve); p.kill(signal); });
    }
  }

  async restart() {
    await this.stop();
    await this.start(this.port);
  }

  command(args) { return redisCommand(this.port, args); }

  async dispose() {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(opts) {
  return new Redis(opts).start();
}
