// write-report.mjs — turns the JSON that bench/run.sh collected into
// docs/benchmarks.md. Usage: node write-report.mjs WORKDIR OUT.md
//
// Everything above the KEEP marker is regenerated on every run; everything
// below it (the hand-written analysis of a profile, say) is carried over, so
// re-running the benchmark does not erase what someone concluded from it.
import fs from 'node:fs';
import path from 'node:path';

const [work, out] = process.argv.slice(2);
const KEEP = '<!-- Everything below this line is written by hand and kept by bench/run.sh. -->';

const load = (name) => {
  try { return JSON.parse(fs.readFileSync(path.join(work, name + '.json'), 'utf8')); }
  catch { return null; }
};
const text = (name) => {
  try { return fs.readFileSync(path.join(work, name), 'utf8'); } catch { return ''; }
};
const machine = Object.fromEntries(text('machine.txt').split('\n').filter(Boolean)
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

const sign = load('sign');
const idle = load('idle')?.idle;
const fIdle = load('flows_idle')?.flows;
const fEs = load('flows_es256')?.flows;
const fHs = load('flows_hs256')?.flows;
const rEs = load('refresh_es256')?.refresh;
// Confirm → login beside waiting sockets, ES256 and HS256 side by side, and
// the memory per waiting socket at each count (issue 17).
const side = {
  es2k: load('flows_w2k_es256')?.flows, hs2k: load('flows_w2k_hs256')?.flows,
  es10k: fIdle, hs10k: load('flows_w10k_hs256')?.flows,
  es2kRead0: load('flows_w2k_es256_read0')?.flows,
};
const idleOf = (name) => load(name)?.idle;
const count = (m, fallback) => (m ? m.ready.toLocaleString('en-US') : fallback);
const mem = [
  [idleOf('idle_mem1k'), 'ES256 broker, sockets only'],
  [idleOf('idle_w2k_es256'), 'ES256 broker'],
  [idleOf('idle_w2k_hs256'), 'HS256 broker'],
  [idle, 'ES256 broker'],
  [idleOf('idle_w10k_hs256'), 'HS256 broker'],
].map(([m, what]) => [count(m, '?'), m, what]);

const n = (v, d = 0) => (v == null || Number.isNaN(v) ? 'n/a'
  : Number(v).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ms = (us, d = 2) => (us == null ? 'n/a' : n(us / 1000, d) + ' ms');
const verdict = (ok) => (ok == null ? '—' : ok ? '**met**' : '**missed**');

// Signing capacity: the broker's pool has one thread per CPU it may use, so
// the capacity is one thread's rate times that (the brief's definition); the
// rate of all threads signing at once is shown beside it because on a shared
// or hyper-threaded machine the two differ.
const cores = Number(machine.nproc || sign?.threads || 1);
const capacity = sign ? sign.one_thread_per_s * cores : null;
const esRatio = fEs && capacity ? fEs.rate / capacity : null;
// On two cores shared with the event loop and the load generator the pool
// never has both cores: what it can sign on the CPU it actually got is its
// threads' CPU (from /proc, in cores) times what a thread signs per second
// of CPU while both cores are busy — as they are all through a flat-out run
// — i.e. the rate of all threads signing at once, per thread. That
// overstates the capacity a little (the same threads draw the QR codes), so
// the ratio to it errs low.
const poolCores = fEs && fEs.workers_cpu_pct > 0 ? fEs.workers_cpu_pct / 100 : null;
const perBusyThread = sign ? sign.n_threads_per_s / sign.threads : null;
const poolCapacity = poolCores && perBusyThread ? poolCores * perBusyThread : null;
const poolRatio = poolCapacity ? fEs.rate / poolCapacity : null;

const rows = [];
rows.push(['confirm → PC `login` push, p99, with ' + n(idle?.ready) + ' other PC sockets waiting',
  '≤ 5 ms', fIdle ? `${ms(fIdle.latency.p99_us)} (p50 ${ms(fIdle.latency.p50_us)}, at ${n(fIdle.rate)} flows/s)` : 'n/a',
  verdict(fIdle ? fIdle.latency.p99_us <= 5000 && fIdle.latency.count > 0 : null)]);
const p50gap = side.es2k && side.hs2k ? (side.es2k.latency.p50_us - side.hs2k.latency.p50_us) / 1000 : null;
rows.push(['ES256 confirm → `login` p50 with 2,000 PC sockets waiting', 'within 0.1 ms of HS256\'s',
  p50gap != null ? `ES256 ${ms(side.es2k.latency.p50_us, 3)}, HS256 ${ms(side.hs2k.latency.p50_us, 3)} (${p50gap >= 0 ? '+' : ''}${n(p50gap, 3)} ms)` : 'n/a',
  verdict(p50gap == null ? null : p50gap <= 0.1)]);
rows.push(['ES256 confirm → `login` p99 with 2,000 PC sockets waiting', '≤ 2 ms',
  side.es2k ? ms(side.es2k.latency.p99_us) : 'n/a', verdict(side.es2k ? side.es2k.latency.p99_us <= 2000 : null)]);
// While they wait: RSS at the end of the hold (after the broker trimmed what
// the burst of opening them left free); just after the last one opened in
// brackets.
const waitingBytes = (m) => (m.rss_held_kib > 0 ? m.bytes_per_socket_held : m.bytes_per_socket);
for (const [count, m, what] of mem) {
  if (!m) continue;
  rows.push([`memory per waiting PC socket at ${count} (${what})`, '≤ 2,048 B',
    `${n(waitingBytes(m))} B while waiting (${n(m.bytes_per_socket)} B as the last one opened)`,
    verdict(waitingBytes(m) <= 2048)]);
}
rows.push(['login flows per second, HS256 access tokens', '≥ 5,000',
  fHs ? `${n(fHs.rate)} /s (broker CPU ${n(fHs.broker_cpu_pct)} %)` : 'n/a', verdict(fHs ? fHs.rate >= 5000 : null)]);
rows.push(['login flows per second, ES256', '≥ 90 % of signing capacity',
  fEs && capacity ? `${n(fEs.rate)} /s = ${n(esRatio * 100, 1)} % of ${n(capacity)} signatures/s (${n(sign.one_thread_per_s)}/s × ${cores} threads; ${n(fEs.rate / sign.n_threads_per_s * 100, 1)} % of the ${n(sign.n_threads_per_s)}/s ${sign.threads} threads sign at once)` +
    (poolRatio ? `; the pool's threads got ${n(poolCores, 2)} cores (the loop ${n(fEs.loop_cpu_pct)} %, the bench ${n(fEs.bench_cpu_pct)} %): at ${n(perBusyThread)} signatures per thread-second with both cores busy they can sign ${n(poolCapacity)}/s, and flows reached ${n(poolRatio * 100, 1)} % of that` : '') : 'n/a',
  verdict(esRatio == null ? null : esRatio >= 0.9) +
    (esRatio != null && esRatio < 0.9 && poolRatio >= 0.9 ? ' against whole cores; met on the CPU the pool got' : '')]);
rows.push(['idle CPU with ' + n(idle?.ready) + ' waiting sockets', '~0',
  idle ? `${n(idle.broker_cpu_pct, 2)} % of one core over ${n(idle.hold_s)} s` : 'n/a',
  verdict(idle ? idle.broker_cpu_pct <= 1 : null)]);

const loadRow = (name, r) => r ? `| ${name} | ${r.target_rate > 0 ? n(r.target_rate) + '/s' : 'flat out, ' + r.inflight + ' in flight'} | ${n(r.idle_open)} | ${n(r.rate)} /s | ${ms(r.latency.p50_us)} | ${ms(r.latency.p90_us)} | ${ms(r.latency.p99_us)} | ${ms(r.latency.p999_us)} | ${ms(r.latency.max_us)} | ${n(r.errors)}${r.error_codes ? ' (' + r.error_codes + ')' : ''} | ${n(r.broker_cpu_pct)} %${r.loop_cpu_pct >= 0 ? ` (loop ${n(r.loop_cpu_pct)}, pool ${n(r.workers_cpu_pct)})` : ''} | ${n(r.bench_cpu_pct)} % | ${n(r.other_cpu_pct)} % |`
  : `| ${name} | did not run | | | | | | | | | | | |`;

// Polling, from the measured push figures: a confirm lands at a uniformly
// random moment of a poll interval T, so the PC learns of it T/2 later on
// average (T at worst), plus one request's own service time, which is at
// least what the push path costs. A PC that shows its QR for D seconds makes
// D/T requests; N waiting PCs make N/T requests per second between them.
const D = 20;
const pushMean = fIdle?.latency.mean_us ?? fEs?.latency.mean_us;
const waiting = idle?.ready ?? 10000;
const poll = [1, 2].map((T) => ({
  T, mean: T * 1e6 / 2 + (pushMean ?? 0), worst: T * 1e6 + (pushMean ?? 0), perLogin: D / T, rps: waiting / T,
}));

const md = [];
md.push('# Benchmarks', '');
md.push(`Measured by \`bench/run.sh\` on ${machine.date ?? 'n/a'}. The tables above the hand-written`,
  'section are regenerated by every run; run it again after changing the broker.', '');
md.push('## Machine', '');
md.push('| | |', '|---|---|');
md.push(`| CPUs (nproc) | ${machine.nproc} |`, `| CPU | ${machine.cpu} |`, `| kernel | ${machine.kernel} |`,
  `| libwebsockets | ${machine.lws} (Debian) |`, `| mbedTLS | ${machine.mbedtls} (Debian) |`,
  `| broker's event loop | \`--event-loop ${machine.event_loop ?? 'auto'}\` |`,
  `| load average when the run started | ${machine.loadavg} |`,
  `| priority | broker nice ${machine.nice}, bench ${Number(machine.nice) ? 'nice ' + (Number(machine.nice) + 5) : 'the same'} (the load generator yields to the system it measures) |`,
  `| bench processes per flat-out workload | ${machine.procs ?? 1} (\`--procs\`: one process runs in lock step with the broker) |`, '');
md.push('The "other processes" column below is the CPU the rest of the machine used during each',
  'measurement (from /proc/stat, minus broker and bench). 200 % is both cores. Anything far from',
  '0 means the figures were taken on a busy machine and are pessimistic.', '');

md.push('## Budget (architecture.md, "Performance budget")', '');
md.push('| figure | target | measured | |', '|---|---|---|---|');
for (const r of rows) md.push(`| ${r.join(' | ')} |`);
md.push('');

md.push('## Scenarios', '');
md.push('Latency of a login flow is from the moment the phone\'s `ticket.confirm` is written to the socket',
  'to the moment the PC socket has the whole `login` message; of a refresh, from `token.refresh`',
  'written to `token` received. PC sockets are reused: after `login` the same socket sends the next',
  '`ticket.new` (which replaces any earlier ticket, protocol.md §3), so the figures are the login',
  'path, not TCP and WebSocket handshakes. Phones sign in once with `auth.password`.', '');
md.push('| scenario | load | idle sockets open | rate | p50 | p90 | p99 | p99.9 | max | errors | broker CPU (its event-loop thread, its worker pool) | bench CPU | other processes |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
// The idle sockets live in a separate bench process, so the flows run's own
// count of them is 0; the holder's count is the one that applies.
md.push(loadRow('flows beside the idle sockets (ES256)', fIdle && idle ? { ...fIdle, idle_open: idle.ready } : fIdle));
md.push(loadRow('flows flat out, ES256', fEs));
md.push(loadRow('flows flat out, HS256', fHs));
md.push(loadRow('refresh rotations flat out (ES256 access)', rEs));
md.push('');
if (idle) {
  md.push(`Idle sockets: ${n(idle.ready)} of ${n(idle.requested)} opened and got a ticket in ${n(idle.open_s, 1)} s;`,
    `over the ${n(idle.hold_s)} s hold the broker used ${n(idle.broker_cpu_pct, 2)} % of a core, the bench holding them`,
    `${n(idle.bench_cpu_pct, 2)} %, other processes ${n(idle.other_cpu_pct)} %.`, '');
}
if (sign) {
  md.push(`ES256 signing (\`qrlogin-sign-rate\`, mbedTLS deterministic ECDSA P-256 as broker/jwt.c signs):`,
    `one thread ${n(sign.one_thread_per_s)} /s (${n(sign.one_thread_us)} µs each); ${sign.threads} threads at once`,
    `${n(sign.n_threads_per_s)} /s. A login flow signs one ES256 access token (and one HS256 refresh token,`,
    'which costs microseconds), so signatures/s is the ceiling on ES256 flows/s.', '');
}

md.push('## ES256 against HS256: confirm → `login` beside waiting sockets', '');
md.push(`${n(fIdle?.target_rate ?? side.es2k?.target_rate)} flows/s beside the waiting PC sockets (each with its ticket,`,
  'held by a second bench process), one fresh broker per row. The phone confirms `read_ms` after',
  'its `ticket.info`: a person reads the PC\'s details before tapping (seconds, in life), and the',
  'broker signs the ES256 login pair meanwhile (docs/benchmarks.md, "Issue 17"). The last row',
  'confirms at once, so the confirm usually arrives while the pair is still being signed and waits',
  'for the rest of that signature.', '');
md.push('| waiting PC sockets | access tokens | phone reads for | rate | p50 | p90 | p99 | max | errors | broker CPU |',
  '|---|---|---|---|---|---|---|---|---|---|');
for (const [waitingN, alg, r] of [[count(idleOf('idle_w2k_es256'), '2,000'), 'ES256', side.es2k],
  [count(idleOf('idle_w2k_hs256'), '2,000'), 'HS256', side.hs2k], [count(idle, '?'), 'ES256', side.es10k],
  [count(idleOf('idle_w10k_hs256'), '?'), 'HS256', side.hs10k],
  [count(idleOf('idle_w2k_es256_read0'), '2,000'), 'ES256', side.es2kRead0]]) {
  md.push(r ? `| ${waitingN} | ${alg} | ${n(r.read_ms)} ms | ${n(r.rate)} /s | ${ms(r.latency.p50_us, 3)} | ${ms(r.latency.p90_us, 3)} | ${ms(r.latency.p99_us)} | ${ms(r.latency.max_us)} | ${n(r.errors)} | ${n(r.broker_cpu_pct)} % (other processes ${n(r.other_cpu_pct)} %) |`
    : `| ${waitingN} | ${alg} | did not run | | | | | | | |`);
}
md.push('');
md.push('## Memory per waiting socket', '');
md.push('The broker\'s RSS growth from before the sockets opened, divided by their number: when the',
  'last one had its ticket, and at the end of the hold (what waiting sockets keep: what a socket',
  'keeps lives in slabs of its own, broker/slab.h, and the broker trims the heap once the burst of',
  'opening them is over, broker/heap_trim.h). The bench opens up to 256 at once; whatever the',
  'broker keeps from that burst counts against the sockets.', '');
md.push('| waiting PC sockets | broker | RSS before → last opened → end of hold | per socket, last opened | per socket, waiting | |',
  '|---|---|---|---|---|---|');
for (const [count, m, what] of mem)
  md.push(m ? `| ${count} | ${what} | ${n(m.rss_before_kib / 1024, 1)} → ${n(m.rss_after_kib / 1024, 1)} → ${n((m.rss_held_kib ?? 0) / 1024, 1)} MiB | ${n(m.bytes_per_socket)} B | ${n(waitingBytes(m))} B | ${verdict(waitingBytes(m) <= 2048)} |`
    : `| ${count} | ${what} | did not run | | | |`);
md.push('');

md.push('## Push versus polling', '');
md.push(`How the figures are computed: a confirm happens at a uniformly random moment of a polling`,
  'interval T, so a polling PC notices it T/2 later on average (T at worst), plus the service time',
  'of the poll request itself — taken here as the measured mean push latency, since a poll does at',
  `least the same lookup. A PC shows its QR for D seconds before the phone confirms (D = ${D} s`,
  'assumed here: scan, read, tap) and makes D/T requests in that time; the broker with N waiting',
  'PCs serves N/T requests per second just to say "not yet". With the push the PC makes one',
  'request (`ticket.new`) and receives one message, and a waiting socket costs the idle CPU measured above.', '');
md.push(`| | mean confirm → PC knows | worst case | requests per login | requests/s for ${n(waiting)} waiting PCs |`,
  '|---|---|---|---|---|');
md.push(`| push (measured) | ${ms(pushMean)} (p99 ${ms(fIdle?.latency.p99_us ?? fEs?.latency.p99_us)}) | ${ms(fIdle?.latency.max_us ?? fEs?.latency.max_us)} | 1 | 0 |`);
for (const p of poll)
  md.push(`| polling every ${p.T} s | ${ms(p.mean, 0)} | ${ms(p.worst, 0)} | ${n(p.perLogin)} | ${n(p.rps)} |`);
md.push('');

for (const [file, title, how] of [['idle.top', `broker profile: ${RATE_TEXT()} flows/s beside the idle sockets`, '--call-graph dwarf'],
  ['hs256.top', 'broker profile: flows flat out, HS256', '-g']]) {
  const t = text(file).trim();
  if (!t) continue;
  md.push(`## Top of the ${title}`, '', `\`perf record ${how} -p <broker>\` for 8 s, \`perf report --no-children --sort dso,symbol\` (self time):`, '', '```', t, '```', '');
}
function RATE_TEXT() { return fIdle ? n(fIdle.target_rate) : '?'; }

{
  const t = text('idle.confirm.top').trim();
  if (t) {
    md.push('## Profile of the confirm path (ES256, beside the idle sockets)', '',
      'From the same `perf record` as the first profile above (with whole stacks, `--call-graph dwarf`):',
      'the samples taken under the phone\'s confirm (`confirm_here`, `confirm_user_cb` once the user',
      'record is read, `login_presign_login`) or under the `login` it ends in (`confirm_issued`, after',
      'the session\'s write), as shares of all the broker\'s samples (`bench/confirm-profile.awk`). The',
      'ES256 signature of the login is not in here: the worker pool made it when the phone scanned.', '');
    md.push('```', t, '```', '');
  }
}

md.push('## Commands', '', '`$TMP` is a fresh temporary directory, `$PORT` a free port, `$PID` the broker\'s pid.', '', '```');
md.push(text('commands.txt').trim(), '```', '');

let kept = `${KEEP}\n`;
try {
  const old = fs.readFileSync(out, 'utf8');
  const i = old.indexOf(KEEP);
  if (i >= 0) kept = old.slice(i);
} catch { /* first run */ }
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, md.join('\n') + '\n' + kept);
