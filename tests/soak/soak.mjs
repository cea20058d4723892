#!/usr/bin/env node
// The soak: a mixed workload under a fault schedule, then the invariant audit
// (docs/reliability.md). Not part of ctest: `make soak-short` (about 2 minutes, the last
// step of `make test`) and `make soak SOAK_MINUTES=10` (by hand).
//
//   node tests/soak/soak.mjs [--seconds N] [--only single|cluster] [--users N] [--out DIR]
//
// For each topology (one SQLite node, then three nodes on one Redis):
//   warm-up load -> quiet point q0 -> load + faults for N s -> quiet point q1
//   -> load again, no faults -> quiet point q2 -> read the store -> audit.
// A quiet point is every client gone and every node reporting no open connection; the
// /proc samples taken there are what "memory and descriptors flat" compares.
// Exit status 0 only if no invariant is broken and the driver itself did not fail.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../blackbox/harness.mjs';
import { audit, ANSWER_BOUND_MS, INVARIANTS } from './audit.mjs';
import { runSchedule } from './faults.mjs';
import { newHistory } from './history.mjs';
import { startCluster, startSingle, scrape, sampleProcess, USERS } from './topology.mjs';
import { startLoad } from './workload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { seconds: 40, only: null, out: null, users: 10 };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--only') o.only = argv[++i];
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--users') o.users = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.users >= 1 && o.users <= USERS.length)) throw new Error(`--users 1..${USERS.length}`);
  if (!(o.seconds >= 10)) throw new Error('--seconds must be at least 10');
  if (o.only && !['single', 'cluster'].includes(o.only)) throw new Error('--only single|cluster');
  return o;
}

async function runLoad(topo, history, users, seconds) {
  const load = startLoad(topo, history, users);
  await sleep(seconds * 1000);
  await load.stop();
}

/** Wait until no node holds a client socket any more, then sample every node's process. */
async function quietPoint(topo) {
  const deadline = Date.now() + 30000;
  for (;;) {
    let open = 0;
    for (const n of topo.nodes) {
      const m = await scrape(n);
      for (const [k, val] of Object.entries(m)) {
        if (k.startsWith('qrlogin_connections{') || k === 'qrlogin_worker_jobs_pending') open += val;
      }
    }
    if (open === 0) break;
    if (Date.now() > deadline) throw new Error(`${open} connections or jobs still open 30 s after every client left`);
    await sleep(100);
  }
  return topo.nodes.map((n) => ({ label: n.label, pid: n.pid, ...sampleProcess(n.pid) }));
}

function sessionIds(history) {
  return [...new Set([...history.logins.map((s) => s.sid), ...history.revokes.map((r) => r.sid)])];
}

/** {sessions: Map sid -> {revoked, reason}} straight from the store the brokers used. */
function readStore(topo, history) {
  const sessions = new Map();
  if (topo.kind === 'single') {
    const db = path.join(topo.dataDir, 'qrlogin.db');
    const out = execFileSync('sqlite3', ['-readonly', '-json', db,
      'SELECT sid, revoked, revoke_reason FROM sessions'], { maxBuffer: 256 << 20 }).toString();
    for (const r of out.trim() ? JSON.parse(out) : []) {
      sessions.set(r.sid, { revoked: r.revoked !== 0, reason: r.revoke_reason });
    }
    return { sessions };
  }
  const sids = sessionIds(history);
  const script = sids.map((sid) => `HMGET qrl:sess:${sid} user_id revoked revoke_reason\n`).join('');
  const out = execFileSync('redis-cli', ['-p', String(topo.redis.port)], { input: script, maxBuffer: 256 << 20 })
    .toString().split('\n');
  sids.forEach((sid, i) => {
    const [user, revoked, reason] = out.slice(3 * i, 3 * i + 3);
    if (user) sessions.set(sid, { revoked: revoked === '1', reason });
  });
  return { sessions };
}

function sumMetrics(scrapes) {
  const m = { refresh: {}, logins_web: 0, bad_requests: 0, auth_failures: 0 };
  for (const s of scrapes) {
    for (const [k, v] of Object.entries(s)) {
      const r = /^qrlogin_refresh_total\{result="([a-z_]+)"\}$/.exec(k);
      if (r) m.refresh[r[1]] = (m.refresh[r[1]] || 0) + v;
      if (k === 'qrlogin_logins_total{kind="web"}') m.logins_web += v;
      if (k === 'qrlogin_bad_requests_total') m.bad_requests += v;
      if (k === 'qrlogin_auth_failures_total') m.auth_failures += v;
    }
  }
  return m;
}

async function soakOne(kind, seconds, outDir, users) {
  const started = Date.now();
  const topo = kind === 'single' ? await startSingle(outDir, users) : await startCluster(outDir, users);
  const history = newHistory();
  const epochs = [];
  try {
    await runLoad(topo, history, users, 5);
    const q0 = await quietPoint(topo);
    const load = startLoad(topo, history, users);
    let faults;
    try {
      faults = await runSchedule(topo, seconds, epochs).done;
    } finally {
      await load.stop();
    }
    const q1 = await quietPoint(topo);
    await runLoad(topo, history, users, Math.max(10, Math.round(seconds / 10)));
    const q2 = await quietPoint(topo);
    const finals = [];
    for (const n of topo.nodes) finals.push(await scrape(n));
    const store = readStore(topo, history);
    const resources = topo.nodes.map((n, i) => ({
      label: n.label,
      pid: n.pid,
      q0: q0[i].pid === n.pid ? q0[i] : undefined,
      q1: q1[i],
      q2: q2[i],
    }));
    const metrics = sumMetrics([...epochs, ...finals]);
    const result = audit({ history, store, metrics, resources });
    // Everything the audit read (tokens only as digests), to study a failure afterwards.
    writeFileSync(path.join(outDir, `${kind}-audit-input.json`), JSON.stringify({
      history, store: { sessions: Object.fromEntries(store.sessions) }, metrics, resources,
    }));
    const byType = (t) => history.requests.filter((q) => q.type === t).length;
    // What each fault did to the clients: the requests in flight at some moment between
    // its start and 2 s after its end, how many were answered `internal` or cut by a
    // close, and the slowest answer among them.
    for (const f of faults) {
      const hit = history.requests.filter((q) => q.sentAt <= f.end + 2000 && q.doneAt >= f.start);
      f.requests = hit.length;
      f.internal = hit.filter((q) => q.code === 'internal').length;
      f.closed = hit.filter((q) => q.outcome === 'closed').length;
      f.slowestMs = Math.round(hit.reduce((m, q) => (q.outcome === 'answer' ? Math.max(m, q.doneAt - q.sentAt) : m), 0));
    }
    return {
      kind,
      seconds,
      wallSeconds: Math.round((Date.now() - started) / 1000),
      users: users.length,
      faults,
      load: {
        requests: history.requests.length,
        ticket_new: byType('ticket.new'),
        refreshes_ws: byType('token.refresh'),
        refreshes_http: byType('POST /api/token'),
        attaches: byType('session.attach'),
        revokes: byType('session.revoke'),
        logout_alls: byType('logout.all'),
        sign_ins: byType('auth.password'),
        refresh_outcomes: history.refreshes.reduce((o, r) => ({ ...o, [r.outcome]: (o[r.outcome] || 0) + 1 }), {}),
      },
      metrics,
      resources,
      driverErrors: history.driverErrors || 0,
      ...result,
    };
  } finally {
    await topo.dispose();
  }
}

function printReport(r) {
  const faultCount = r.faults.reduce((o, f) => ({ ...o, [f.type]: (o[f.type] || 0) + 1 }), {});
  console.log(`soak: ${r.kind}: ${r.seconds} s of faults (${Object.entries(faultCount).map(([k, v]) => `${k}×${v}`).join(', ')}), `
    + `${r.load.requests} requests, refresh outcomes ${JSON.stringify(r.load.refresh_outcomes)}`);
  for (const [name, key] of INVARIANTS) {
    const broken = r.violations.filter((v) => v.invariant === name).length;
    console.log(`soak: ${r.kind}:   ${broken ? 'BROKEN' : 'held  '} ${name} (${key} ${r.counts[key]}${broken ? `, ${broken} violations` : ''})`);
  }
  for (const f of r.faults) {
    console.log(`soak: ${r.kind}:   fault ${f.type} on ${f.target} for ${f.end - f.start} ms: ${f.requests} requests in flight, `
      + `${f.internal} answered internal, ${f.closed} cut by a close, slowest answer ${f.slowestMs} ms; healthy ${f.recoveredMs} ms after`);
  }
  console.log(`soak: ${r.kind}:   slowest answer ${r.counts.max_answer_ms} ms (bound ${ANSWER_BOUND_MS} ms)`);
  for (const v of r.violations.slice(0, 50)) console.log(`soak: ${r.kind}: VIOLATION ${v.invariant}: ${v.detail}`);
  for (const s of r.resources) {
    console.log(`soak: ${r.kind}:   ${s.label} pid ${s.pid}: fds ${s.q0 ? `${s.q0.fds} -> ` : ''}${s.q1.fds} -> ${s.q2.fds}, `
      + `RSS MiB ${s.q0 ? `${(s.q0.rss / 1048576).toFixed(1)} -> ` : ''}${(s.q1.rss / 1048576).toFixed(1)} -> ${(s.q2.rss / 1048576).toFixed(1)}`);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const outDir = o.out || path.resolve(here, '../../build/soak', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const kinds = o.only ? [o.only] : ['single', 'cluster'];
  const reports = [];
  for (const kind of kinds) {
    console.log(`soak: ${kind}: starting, ${o.seconds} s of faults (logs in ${outDir})`);
    const r = await soakOne(kind, o.seconds, outDir, USERS.slice(0, o.users));
    reports.push(r);
    printReport(r);
  }
  writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(reports, null, 2)}\n`);
  const broken = reports.reduce((n, r) => n + r.violations.length, 0);
  const driver = reports.reduce((n, r) => n + r.driverErrors, 0);
  const faults = reports.reduce((n, r) => n + r.faults.length, 0);
  const requests = reports.reduce((n, r) => n + r.load.requests, 0);
  const ok = broken === 0 && driver === 0;
  console.log(`soak: ${ok ? 'PASS' : 'FAIL'}: ${kinds.join(' + ')}, ${o.seconds} s of faults each, ${faults} faults, `
    + `${requests} requests, ${broken} invariant violations, ${driver} driver errors (report ${path.join(outDir, 'report.json')})`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`soak: FAIL: the driver stopped: ${e.stack || e}`);
  process.exit(1);
});
