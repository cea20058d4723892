// The soak's fault schedule: the fault types of a topology, injected one at a time, evenly
// spread over the fault phase, cycling so that a long run hits each of them many times.
// Each fault undoes itself (the node comes back, Redis resumes, the file-size limit is
// lifted) before the next one starts.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../blackbox/harness.mjs';
import { request } from './http.mjs';
import { scrape } from './topology.mjs';

// Redis stopped past the broker's watchdog (REDIS_LINK_TIMEOUT_MS, 3 s in
// broker/redis_link.h): pending commands must be answered `internal`, not hang.
const REDIS_STOP_MS = 4500;
const NODE_STOP_MS = 4000;
const DISK_FULL_MS = 4000;
const DISK_FULL_BYTES = 32 * 1024; // a few WAL frames
const KILLED_FOR_MS = 1000;

export const FAULT_TYPES = {
  single: ['node_kill', 'node_stop', 'disk_full', 'keys_rotate'],
  cluster: ['redis_restart', 'redis_stop', 'node_kill', 'node_stop', 'keys_rotate'],
};

// In the cluster, the same node is always killed and another always stopped, so node 0
// lives through every fault and its memory and descriptors can be compared with the
// baseline taken before the first one.
const KILL_TARGET = { single: 0, cluster: 2 };
const STOP_TARGET = { single: 0, cluster: 1 };

async function waitHealthy(topo, deadlineMs = 30000) {
  const deadline = Date.now() + deadlineMs;
  for (const n of topo.nodes) {
    for (;;) {
      try {
        if ((await request(`${n.url}/healthz`, { timeoutMs: 2000 })).status === 200) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`${n.label} not healthy ${deadlineMs} ms after a fault`);
      await sleep(100);
    }
  }
}

const setFileSize = (pid, limit) => execFileSync('prlimit', ['--pid', String(pid), `--fsize=${limit}:unlimited`]);

async function inject(type, topo, epochs) {
  switch (type) {
    case 'node_kill': {
      const n = topo.nodes[KILL_TARGET[topo.kind]];
      // Its counters die with it: keep them, and flag answers it sends after this scrape.
      epochs.push(await scrape(n));
      n.scrapedGen = n.gen;
      await n.kill();
      await sleep(KILLED_FOR_MS);
      await n.respawn();
      return n.label;
    }
    case 'node_stop': {
      const n = topo.nodes[STOP_TARGET[topo.kind]];
      process.kill(n.pid, 'SIGSTOP');
      try { await sleep(NODE_STOP_MS); } finally { process.kill(n.pid, 'SIGCONT'); }
      return n.label;
    }
    case 'redis_stop': {
      const { pid } = topo.redis.proc;
      process.kill(pid, 'SIGSTOP');
      try { await sleep(REDIS_STOP_MS); } finally { process.kill(pid, 'SIGCONT'); }
      return 'redis';
    }
    case 'redis_restart':
      await topo.redis.restart();
      return 'redis';
    case 'disk_full': {
      // The broker's own file-size limit lowered at run time (prlimit on the live process:
      // no root, nothing mounted, lifted again in the finally) to below what its WAL
      // already holds: every write past that offset fails with EFBIG, as a write needing new
      // blocks does on a full disk. Lowered only to the WAL's current size (as
      // store.test.mjs does on an idle broker) it would bite only while the WAL still grows:
      // once the checkpointer restarts the WAL, writes land inside the file again.
      const n = topo.nodes[0];
      const wal = statSync(path.join(topo.dataDir, 'qrlogin.db-wal')).size;
      const { pid } = n;
      setFileSize(pid, Math.min(wal, DISK_FULL_BYTES));
      try { await sleep(DISK_FULL_MS); } finally { setFileSize(pid, 'unlimited'); }
      return n.label;
    }
    case 'keys_rotate':
      await topo.keygen();
      for (const n of topo.nodes) process.kill(n.pid, 'SIGHUP');
      return 'keys';
    default:
      throw new Error(`unknown fault ${type}`);
  }
}

/**
 * Run the schedule for `seconds`: returns {done: Promise<[{type, target, start, end, recoveredMs}]>}.
 * `epochs` receives the /metrics of every node just before it is killed.
 */
export function runSchedule(topo, seconds, epochs) {
  const types = FAULT_TYPES[topo.kind];
  const count = Math.max(types.length, Math.floor(seconds / 20));
  const spacing = (seconds * 1000) / count;
  const t0 = Date.now();
  const log = [];
  const done = (async () => {
    for (let i = 0; i < count; i += 1) {
      const at = t0 + spacing * i + spacing / 4;
      if (at > Date.now()) await sleep(at - Date.now());
      const type = types[i % types.length];
      const start = Date.now();
      const target = await inject(type, topo, epochs);
      const end = Date.now();
      await waitHealthy(topo);
      log.push({ type, target, start, end, recoveredMs: Date.now() - end });
      console.log(`soak: ${topo.kind} fault ${i + 1}/${count} ${type} on ${target}: ${end - start} ms, healthy ${Date.now() - end} ms later`);
    }
    const left = t0 + seconds * 1000 - Date.now();
    if (left > 0) await sleep(left);
    return log;
  })();
  return { done };
}
