// Black-box harness for qrlogin-broker.
//
// Everything here is written against docs/protocol.md (the wire contract) only: the
// broker is started as a real process on a free loopback port with a throw-away data dir and
// driven over real HTTP and WebSockets (the `ws` package, a client that is not ours).
//
// Exports:
//   startBroker(opts)        -> Broker {url, wsUrl, port, dataDir, stop(), kill(), restart(), log()}
//   addUser(dataDir, name, pw), runCli(args, opts)
//   connect(url, opts)       -> Client (resolves after a well-formed `hello`)
//   pcTicket(pc, client?)    -> the `ticket` frame
//   phoneLogin(broker, name, pw, opts) -> {ws, auth}
//   qrLogin(broker, phone, opts) -> {pc, ticket, info, login}
//   test / describe          -> node:test wrappers that attach broker logs to a failure
//   jwt helpers, http helpers, sleep

import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import * as nodeTest from 'node:test';
import WebSocket from 'ws';
import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BROKER = process.env.QRLOGIN_BROKER
  || path.resolve(here, '../../build/qrlogin-broker');
export const PBKDF2 = ['--pbkdf2-iterations', '1000'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Deadlines for events (a frame, a reply, a process becoming healthy). They only turn "never"
// into a failure: a broker under ASan, valgrind or a CPU hog may be many times slower than on
// an idle machine, and no test asserts that anything happened fast. QRLOGIN_BB_WAIT_SCALE
// stretches them all (valgrind_cluster runs every node under memcheck, ~50x slower).
const WAIT_SCALE = Math.max(1, Number(process.env.QRLOGIN_BB_WAIT_SCALE) || 1);
export const EVENT_WAIT_MS = 10000 * WAIT_SCALE;
const HEALTHY_WAIT_MS = 30000 * WAIT_SCALE;

/**
 * Polls fn until it returns a truthy value, which it resolves with. The deadline only turns a
 * condition that never comes true into a failure naming the last value seen.
 */
export async function eventually(fn, what, { timeoutMs = 15000 * WAIT_SCALE, everyMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() > end) break;
    await sleep(everyMs);
  }
  assert.fail(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

// ---------------------------------------------------------------------------------------------
// Time windows that are the subject of a test (a ticket TTL, a refresh interval or grace).
//
// "Within the window the broker does X" can only be checked when the request reached the
// broker inside the window, and a slow machine may deliver it late. Such a test measures, on
// its own clock, a bound that cannot be late: `since` is taken before the request that opens
// the window is sent (so the broker opened it no earlier), and the check runs after the reply
// to the request inside it came back (so the broker decided no later). When that bound is not
// inside the window, the broker may rightly have decided otherwise and the attempt proves
// nothing: it is Inconclusive and retried from scratch, never a failure and never a pass.

export class Inconclusive extends Error {}

/** Throws Inconclusive unless now is less than windowMs after sinceMs. */
export function needWithin(sinceMs, windowMs, what) {
  const took = Date.now() - sinceMs;
  if (took >= windowMs) {
    throw new Inconclusive(`${what}: ${took} ms after the window opened, which lasts ${windowMs} ms`);
  }
}

/**
 * Runs attempt(n) (n = 1, 2, …) until one completes without Inconclusive. After `tries`
 * inconclusive attempts the test is skipped, saying why: the machine was too slow to put a
 * request inside the window, which says nothing about the broker.
 */
export async function retryWindow(t, attempt, tries = 4) {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt(n);
    } catch (e) {
      if (!(e instanceof Inconclusive)) throw e;
      t.diagnostic(`attempt ${n} inconclusive: ${e.message}`);
      if (n >= tries) {
        t.skip(`every attempt missed its time window (${e.message})`);
        return undefined;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Broker registry: every broker started by this test file, so that a failing test can show
// what the broker logged while it ran, and so that nothing outlives the test process.

const registry = new Set();
process.on('exit', () => {
  for (const b of registry) {
    if (b.proc && b.proc.exitCode === null && b.proc.signalCode === null) {
      try { b.proc.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
});

const LOG_TAIL_LINES = 200;

function logsSince(marks) {
  let out = '';
  for (const b of registry) {
    const from = marks.has(b) ? marks.get(b) : 0;
    let lines = b.lines.slice(from);
    if (lines.length === 0 && !b.crashed) continue;
    let note = '';
    if (lines.length > LOG_TAIL_LINES) {
      note = ` (last ${LOG_TAIL_LINES} of ${lines.length} lines)`;
      lines = lines.slice(-LOG_TAIL_LINES);
    }
    out += `\n----- broker ${b.url} stderr${note} -----\n${lines.join('\n')}\n`;
    if (b.crashed) out += `!!!!! broker ${b.url} exited unexpectedly: ${b.crashed}\n`;
  }
  return out;
}

function attachLogs(err, marks) {
  const extra = logsSince(marks);
  if (!extra) return err;
  if (err && typeof err === 'object') {
    try {
      err.message = `${err.message}${extra}`;
      if (typeof err.stack === 'string') err.stack = `${err.stack}${extra}`;
      return err;
    } catch { /* frozen error: fall through */ }
  }
  const e = new Error(`${String(err)}${extra}`);
  e.cause = err;
  return e;
}

function wrapFn(fn) {
  return async function wrapped(t, ...rest) {
    const marks = new Map();
    for (const b of registry) marks.set(b, b.lines.length);
    try {
      return await fn(t, ...rest);
    } catch (err) {
      throw attachLogs(err, marks);
    }
  };
}

/** node:test `test`, but a failure carries the broker log lines written during the test. */
export function test(name, optsOrFn, maybeFn) {
  if (typeof optsOrFn === 'function') return nodeTest.test(name, wrapFn(optsOrFn));
  return nodeTest.test(name, optsOrFn, wrapFn(maybeFn));
}
export const { describe, before, after, beforeEach, afterEach } = nodeTest;

// ---------------------------------------------------------------------------------------------
// Processes

function tryListen(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

// The kernel's ephemeral range: ports our own client sockets (and other tests') use for
// outgoing connections. A port from `listen(0)` is taken from that range and may still be
// held by a client socket of ours (node binds with SO_REUSEADDR, the broker may not), so the
// broker's bind can fail with EADDRINUSE. Ports below the range are never used that way.
let ephemeralLow = 32768;
try {
  ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
} catch { /* not Linux: keep the default */ }

/** A port nobody listens on right now, outside the ephemeral range when possible. */
export async function freePort() {
  const lo = 20000;
  const hi = ephemeralLow - 1;
  if (hi - lo > 1000) {
    for (let i = 0; i < 50; i += 1) {
      const p = lo + Math.floor(Math.random() * (hi - lo));
      if (await tryListen(p) !== null) return p;
    }
  }
  return tryListen(0);
}

/**
 * Run a qrlogin-broker subcommand to completion.
 * Resolves {code, signal, stdout, stderr}. Kills it after timeoutMs (then code is null and
 * timedOut is true) so that a broker which wrongly starts serving cannot hang the suite.
 */
export function runCli(args, { input, env, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BROKER, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    proc.on('error', reject);
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    proc.stdin.on('error', () => { /* the process may not read stdin */ });
    if (input !== undefined) proc.stdin.end(input);
    else proc.stdin.end();
  });
}

/** `qrlogin-broker useradd --data-dir DIR NAME`, password on stdin; asserts exit 0. */
export async function addUser(dataDir, name, password) {
  const r = await runCli(['useradd', '--data-dir', dataDir, ...PBKDF2, name],
    { input: `${password}\n` });
  assert.equal(r.code, 0,
    `useradd ${name} exited ${r.code} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

export function makeDataDir() {
  return mkdtempSync(path.join(tmpdir(), 'qrlogin-bb-'));
}

class Broker {
  constructor({ args = [], env = {}, dataDir, keepDataDir = false, tls, acceptUnhealthy = false }) {
    // Started while its store is away on purpose: "up" is /healthz answering at all.
    this.acceptUnhealthy = acceptUnhealthy;
    this.tls = tls || null; // {cert, key, ca}: serve HTTPS/WSS, trust `ca`
    this.args = tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key, ...args] : args;
    this.env = env;
    this.ownDataDir = !dataDir;
    this.dataDir = dataDir || makeDataDir();
    this.keepDataDir = keepDataDir;
    this.lines = [];
    this.partial = '';
    this.proc = null;
    this.port = 0;
    this.crashed = null;
    this.expectExit = false;
    this.exitPromise = null;
    registry.add(this);
  }

  get url() { return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`; }
  get wsUrl() { return `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/ws`; }
  get ca() { return this.tls ? this.tls.ca : undefined; }

  /** All stderr lines so far, joined. */
  log() { return this.lines.join('\n') + (this.partial ? `\n${this.partial}` : ''); }

  async spawnOn(port) {
    this.port = port;
    this.crashed = null;
    this.expectExit = false;
    const argv = ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', this.url,
      '--data-dir', this.dataDir, ...PBKDF2, '--log-level', 'debug', ...this.args];
    this.lines.push(`[harness] ${BROKER} ${argv.join(' ')}`);
    const proc = spawn(BROKER, argv, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const onData = (d) => {
      const text = this.partial + d;
      const parts = text.split('\n');
      this.partial = parts.pop();
      for (const p of parts) this.lines.push(p);
    };
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.stdout.setEncoding('utf8').on('data', onData);
    this.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        if (this.partial) { this.lines.push(this.partial); this.partial = ''; }
        this.lines.push(`[harness] broker exited code=${code} signal=${signal}`);
        if (!this.expectExit) this.crashed = `code=${code} signal=${signal}`;
        resolve({ code, signal });
      });
    });
    proc.on('error', (e) => { this.lines.push(`[harness] spawn error: ${e.message}`); });

    // Wait for /healthz 200: poll every 50 ms, at most HEALTHY_WAIT_MS.
    const deadline = Date.now() + HEALTHY_WAIT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`broker exited before becoming healthy (code ${proc.exitCode}, `
          + `signal ${proc.signalCode})\n${this.log()}`);
      }
      try {
        const res = await httpRequest(`${this.url}/healthz`, { ca: this.ca, timeoutMs: 1000 });
        if (res.status === 200 || (this.acceptUnhealthy && res.status === 503)) return;
        last = `status ${res.status}`;
      } catch (e) {
        last = e.code || e.message;
      }
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`broker not healthy within ${HEALTHY_WAIT_MS} ms (${last})\n${this.log()}`);
  }

  /** Start on a fresh free port (retrying if someone else grabbed it). */
  async start() {
    let lastErr;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await this.spawnOn(await freePort());
        return this;
      } catch (e) {
        lastErr = e;
        this.expectExit = true;
        if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
        await this.exitPromise;
      }
    }
    throw lastErr;
  }

  /**
   * SIGTERM (or `signal`), wait for exit, assert exit status 0.
   * Resolves {code, signal}.
   */
  async stop({ signal = 'SIGTERM', timeoutMs = 30000 } = {}) {
    if (!this.proc) return { code: null, signal: null };
    const proc = this.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const res = await this.exitPromise;
      this.proc = null;
      assert.fail(`broker ${this.url} had already exited: code=${res.code} signal=${res.signal}`
        + `${this.crashed ? ' (unexpectedly)' : ''}\n${this.lines.slice(-LOG_TAIL_LINES).join('\n')}`);
    }
    this.expectExit = true;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const res = await this.exitPromise;
    clearTimeout(timer);
    this.proc = null;
    assert.equal(res.signal, null,
      `broker died by signal ${res.signal} after ${signal} (not a clean exit within ${timeoutMs} ms)`);
    assert.equal(res.code, 0, `broker exit status after ${signal} is ${res.code}, expected 0`);
    return res;
  }

  /** SIGKILL, no questions asked. */
  async kill() {
    if (!this.proc) return;
    this.expectExit = true;
    this.proc.kill('SIGKILL');
    await this.exitPromise;
    this.proc = null;
  }

  /**
   * Clean stop, optionally run something against the stopped data dir (keygen, useradd),
   * then start again on the same port with the same data dir and arguments.
   */
  async restart({ between, args } = {}) {
    await this.stop();
    if (between) await between(this);
    if (args) this.args = args;
    let lastErr;
    const deadline = Date.now() + HEALTHY_WAIT_MS;
    // Same port: the public URL (token `iss`) must not change across a restart.
    while (Date.now() < deadline) {
      try {
        await this.spawnOn(this.port);
        return this;
      } catch (e) {
        lastErr = e;
        this.expectExit = true;
        if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
        await this.exitPromise;
        await sleep(200);
      }
    }
    throw lastErr;
  }

  /** Stop if running (asserting a clean exit) and remove the data dir. */
  async dispose() {
    try {
      if (this.proc) await this.stop();
      else if (this.crashed) assert.fail(`broker ${this.url} exited unexpectedly: ${this.crashed}`);
    } finally {
      registry.delete(this);
      if (this.ownDataDir && !this.keepDataDir) {
        rmSync(this.dataDir, { recursive: true, force: true });
      }
    }
  }
}

/**
 * Start a broker.
 *   opts.args   extra `serve` arguments
 *   opts.users  [[name, password], ...] added with `useradd` before the broker starts
 *   opts.env    extra environment
 *   opts.dataDir reuse a data dir
 */
export async function startBroker(opts = {}) {
  // QRLOGIN_BB_CLUSTER=1: the same tests against two nodes on one Redis behind a round-robin
  // TCP proxy, so a PC and its phone land on different nodes (as_cluster.mjs).
  if (process.env.QRLOGIN_BB_CLUSTER && !opts.single) {
    const { startClusterBroker } = await import('./as_cluster.mjs');
    return startClusterBroker(opts);
  }
  const b = new Broker(opts);
  for (const [name, pw] of opts.users || []) await addUser(b.dataDir, name, pw);
  await b.start();
  return b;
}

/** Stop and clean up every broker this file started (use in `after`). */
export async function stopAll() {
  const errors = [];
  for (const b of [...registry]) {
    try { await b.dispose(); } catch (e) { errors.push(e); }
  }
  if (errors.length) throw errors[0];
}

// ---------------------------------------------------------------------------------------------
// WebSocket client

function describeFrame(f) {
  const s = JSON.stringify(f);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.seen = [];      // every frame received, in order
    this.queue = [];     // frames not yet consumed by request()/next()
    this.waiters = [];   // {pred, resolve}
    this.nextId = 1;
    this.res = null;     // the HTTP upgrade response
    this.hello = null;
    this.closedInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedInfo = { code, reason: reason.toString() };
        resolve(this.closedInfo);
        for (const w of this.waiters.splice(0)) w.onClose(this.closedInfo);
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    // A protocol error from the server (bad frame, bad UTF-8 from the broker) must fail the
    // test that is waiting, not crash the test process; 'close' follows it.
    this.errors = [];
    ws.on('error', (e) => { this.errors.push(e); this.seen.push({ type: '__socket_error__', message: e.message }); });
  }

  onMessage(data, isBinary) {
    let frame;
    if (isBinary) {
      frame = { type: '__binary__', bytes: data.length };
    } else {
      try {
        frame = JSON.parse(data.toString('utf8'));
      } catch {
        frame = { type: '__invalid_json__', text: data.toString('utf8') };
      }
    }
    if (frame !== null && typeof frame === 'object') {
      Object.defineProperty(frame, 'receivedAt', { value: Date.now() });
    }
    this.seen.push(frame);
    for (let i = 0; i < this.waiters.length; i += 1) {
      const w = this.waiters[i];
      if (w.pred(frame)) {
        this.waiters.splice(i, 1);
        w.resolve(frame);
        return;
      }
    }
    this.queue.push(frame);
  }

  /** Resolve with the first buffered or future frame matching pred (consuming it). */
  nextFrame(pred, timeoutMs = EVENT_WAIT_MS, what = 'frame') {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred };
      const fail = (why) => {
        const at = this.waiters.indexOf(w);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`${why} waiting for ${what}; frames seen on this socket:\n  `
          + (this.seen.map(describeFrame).join('\n  ') || '(none)')));
      };
      const timer = setTimeout(() => fail(`timeout after ${timeoutMs} ms`), timeoutMs);
      w.resolve = (f) => { clearTimeout(timer); resolve(f); };
      w.onClose = (c) => { clearTimeout(timer); fail(`socket closed (${c.code} ${c.reason})`); };
      if (this.closedInfo) w.onClose(this.closedInfo);
      else this.waiters.push(w);
    });
  }

  /** The next push (a frame without an id) of the given type. */
  next(type, timeoutMs = EVENT_WAIT_MS) {
    return this.nextFrame((f) => f.type === type && (f.id === undefined || f.id === null),
      timeoutMs, `push "${type}"`);
  }

  /** Resolve true if no push of `type` arrives within ms (does not consume other frames). */
  async none(type, ms) {
    try {
      const f = await this.next(type, ms);
      return f;
    } catch (e) {
      if (/^timeout/.test(e.message)) return null;
      throw e;
    }
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  sendRaw(data, options = {}) {
    this.ws.send(data, options);
  }

  /**
   * Send obj with an id (an integer unless obj has one) and resolve with the reply. The reply
   * carries, not enumerable, `sentAt` and `receivedAt` (ms, this process's clock): the broker
   * handled the request between the two.
   */
  request(obj, timeoutMs = EVENT_WAIT_MS) {
    const msg = { ...obj };
    if (msg.id === undefined) {
      msg.id = this.nextId;
      this.nextId += 1;
    }
    const { id } = msg;
    const p = this.nextFrame((f) => f.id === id, timeoutMs,
      `reply to ${JSON.stringify(msg).slice(0, 200)}`);
    const sentAt = Date.now();
    this.send(msg);
    return p.then((f) => Object.defineProperty(f, 'sentAt', { value: sentAt }));
  }

  /** request(), asserting the reply type; returns the reply. */
  async call(obj, expectType, timeoutMs) {
    const f = await this.request(obj, timeoutMs);
    assert.equal(f.type, expectType,
      `${obj.type} answered ${describeFrame(f)}, expected type "${expectType}"`);
    return f;
  }

  /** request(), asserting an error with the given code (or one of codes); returns it. */
  async fails(obj, codes, timeoutMs) {
    const f = await this.request(obj, timeoutMs);
    const want = Array.isArray(codes) ? codes : [codes];
    assert.equal(f.type, 'error',
      `${obj.type} answered ${describeFrame(f)}, expected error ${want.join('|')}`);
    assert.ok(want.includes(f.code),
      `${obj.type} failed with ${describeFrame(f)}, expected code ${want.join('|')}`);
    assert.equal(typeof f.message, 'string', `error frame has no string message: ${describeFrame(f)}`);
    return f;
  }

  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code);
    }
    return this.closed;
  }

  terminate() { this.ws.terminate(); return this.closed; }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }
}

/** Open a raw `ws` socket; resolves {ws, res} once open, rejects with .status on refusal. */
export function openSocket(url, { origin, headers = {}, protocol = 'qrlogin.v1', perMessageDeflate = true } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { headers, perMessageDeflate, handshakeTimeout: EVENT_WAIT_MS };
    if (origin) opts.origin = origin;
    const ws = protocol ? new WebSocket(url, protocol, opts) : new WebSocket(url, opts);
    let res = null;
    ws.on('upgrade', (r) => { res = r; });
    ws.once('unexpected-response', (req, r) => {
      const e = new Error(`handshake refused: HTTP ${r.statusCode}`);
      e.status = r.statusCode;
      e.headers = r.headers;
      ws.terminate();
      reject(e);
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({ ws, res }));
  });
}

/**
 * Connect and resolve after the `hello` frame, asserting its shape.
 * `url` may be a broker (its wsUrl is used) or a ws:// URL.
 */
export async function connect(url, opts = {}) {
  const target = typeof url === 'string' ? url : url.wsUrl;
  if (typeof url !== 'string' && url.ca) opts = { ...opts, wsOptions: { ca: url.ca, ...opts.wsOptions } };
  const pending = [];
  const { ws, res } = await new Promise((resolve, reject) => {
    // Attach the message listener before `open` can fire so that hello is never missed.
    const { origin, headers = {}, perMessageDeflate = true, wsOptions = {} } = opts;
    const protocol = opts.protocol === undefined ? 'qrlogin.v1' : opts.protocol;
    const o = { headers, perMessageDeflate, handshakeTimeout: EVENT_WAIT_MS, ...wsOptions };
    if (origin) o.origin = origin;
    const sock = protocol ? new WebSocket(target, protocol, o) : new WebSocket(target, o);
    let upgradeRes = null;
    sock.on('upgrade', (r) => { upgradeRes = r; });
    sock.on('message', (d, b) => pending.push([d, b]));
    sock.once('unexpected-response', (req, r) => {
      const e = new Error(`handshake refused: HTTP ${r.statusCode}`);
      e.status = r.statusCode;
      sock.terminate();
      reject(e);
    });
    sock.once('error', reject);
    sock.once('open', () => resolve({ ws: sock, res: upgradeRes }));
  });
  ws.removeAllListeners('message');
  const c = new Client(ws);
  c.res = res;
  for (const [d, b] of pending) c.onMessage(d, b);
  const hello = await c.nextFrame((f) => f.type === 'hello', EVENT_WAIT_MS, 'hello');
  assertHello(hello);
  c.hello = hello;
  return c;
}

export function assertHello(hello) {
  assert.equal(hello.type, 'hello');
  assert.equal(hello.version, 1, `hello.version: ${describeFrame(hello)}`);
  assert.equal(typeof hello.server_time, 'number', `hello.server_time: ${describeFrame(hello)}`);
  assert.ok(Number.isInteger(hello.server_time), `hello.server_time is not integer ms: ${hello.server_time}`);
  // Same machine: the broker's clock is ours. A minute either way allows for nothing but
  // a seconds-vs-milliseconds mix-up to fail this.
  assert.ok(Math.abs(hello.server_time - Date.now()) < 60000,
    `hello.server_time ${hello.server_time} is not ms since epoch near ${Date.now()}`);
  assert.equal(typeof hello.heartbeat, 'number', `hello.heartbeat: ${describeFrame(hello)}`);
  assert.ok(hello.heartbeat > 0, `hello.heartbeat: ${describeFrame(hello)}`);
  assert.ok(!('id' in hello), 'hello is a push and carries no id');
}

// ---------------------------------------------------------------------------------------------
// Flows

export const PC_UA = 'Mozilla/5.0 (X11; Linux x86_64) qrlogin-blackbox-pc/1.0';
export const PHONE_UA = 'qrlogin-blackbox-phone/1.0';
export const TICKET_RE = /^[A-Za-z0-9_-]{22,}$/;

/** ticket.new on pc; asserts and returns the `ticket` frame. */
export async function pcTicket(pc, client) {
  const msg = { type: 'ticket.new' };
  if (client) msg.client = client;
  const t = await pc.call(msg, 'ticket');
  assert.match(t.ticket, TICKET_RE, `ticket is not ≥128-bit base64url: ${t.ticket}`);
  return t;
}

/** A phone socket signed in with auth.password; returns {ws, auth}. */
export async function phoneLogin(broker, name, password, opts = {}) {
  const ws = await connect(broker, { headers: { 'User-Agent': PHONE_UA }, ...opts });
  const auth = await ws.call({ type: 'auth.password', username: name, password }, 'auth');
  return { ws, auth };
}

/**
 * The whole QR flow: a PC socket asks for a ticket, `phone` scans and confirms.
 * Returns {pc, ticket, info, login}.
 */
export async function qrLogin(broker, phone, { ua = PC_UA, client = { name: 'blackbox PC' } } = {}) {
  const pc = await connect(broker, { headers: { 'User-Agent': ua } });
  const ticket = await pcTicket(pc, client);
  const info = await phone.call({ type: 'ticket.scan', ticket: ticket.ticket }, 'ticket.info');
  await pc.next('ticket.scanned');
  const msg = { type: 'ticket.confirm', ticket: ticket.ticket };
  if (ticket.code) msg.code = ticket.code;
  await phone.call(msg, 'ok');
  const login = await pc.next('login');
  return { pc, ticket, info, login };
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * A plain node:http(s) request (fetch cannot be given a CA). Resolves
 * {status, headers (lower-case object), body (string)}.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, ca, timeoutMs = EVENT_WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers, ca, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

export async function get(broker, p, headers = {}) {
  const res = await fetch(`${broker.url}${p}`, { headers, redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

export async function getJson(broker, p, headers = {}) {
  const r = await get(broker, p, headers);
  try { r.json = JSON.parse(r.body); } catch { r.json = undefined; }
  return r;
}

export function apiMe(broker, token) {
  return getJson(broker, '/api/me', token === undefined ? {} : { Authorization: `Bearer ${token}` });
}

export async function postToken(broker, fields, { raw, path = '/api/token' } = {}) {
  const body = raw !== undefined ? raw : new URLSearchParams(fields).toString();
  const res = await fetch(`${broker.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, body: text, json };
}

export function assertBearer401(r, what) {
  assert.equal(r.status, 401, `${what}: /api/me status ${r.status}, body ${r.body}`);
  const h = r.headers.get('www-authenticate');
  assert.ok(h, `${what}: 401 without WWW-Authenticate`);
  assert.match(h, /^Bearer\b/, `${what}: WWW-Authenticate is "${h}"`);
  assert.match(h, /error="invalid_token"/, `${what}: WWW-Authenticate is "${h}"`);
}

// ---------------------------------------------------------------------------------------------
// JWT

export const decodeJwt = (t) => jose.decodeJwt(t);
export const decodeHeader = (t) => jose.decodeProtectedHeader(t);

export async function jwks(broker) {
  const r = await getJson(broker, '/.well-known/jwks.json');
  assert.equal(r.status, 200, `jwks status ${r.status}`);
  assert.ok(r.json && Array.isArray(r.json.keys), `jwks body: ${r.body}`);
  return r.json;
}

/** Verify an access token against the broker's published JWKS; returns {payload, protectedHeader}. */
export async function verifyAccess(broker, token, { audience } = {}) {
  const set = jose.createRemoteJWKSet(new URL('/.well-known/jwks.json', broker.url),
    { cooldownDuration: 0, cacheMaxAge: 0 });
  return jose.jwtVerify(token, set, {
    issuer: broker.url,
    audience: audience || broker.url,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
}

/** Flip one character inside the signature part of a compact JWS. */
export function tamper(token) {
  const parts = token.split('.');
  const sig = parts[2];
  const i = Math.floor(sig.length / 2);
  const c = sig[i] === 'A' ? 'B' : 'A';
  parts[2] = sig.slice(0, i) + c + sig.slice(i + 1);
  return parts.join('.');
}

/** A compact JWS with the given header and claims and a junk signature. */
export function forge(header, claims, sig = 'c2lnbmF0dXJl') {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc(header)}.${enc(claims)}.${sig}`;
}

/**
 * A relative lifetime on the wire (`expires_in`) of a freshly issued token: the configured
 * ttl, or one less when the broker's clock ticked a second between issuing and answering.
 */
export function assertFreshLifetime(actual, ttl, what = 'expires_in') {
  assert.equal(typeof actual, 'number', `${what} is ${JSON.stringify(actual)}`);
  assert.ok(Number.isInteger(actual), `${what} ${actual} is not whole seconds`);
  assert.ok(actual === ttl || actual === ttl - 1, `${what} is ${actual}, expected ${ttl}`);
}

/**
 * `expires_in` agrees with the token's own `exp` claim: it is exp minus the broker's clock
 * (whole seconds) when it answered, some moment between the request's `sentAt` and the
 * reply's `receivedAt` (see Client.request), give or take a second. Bracketing the moment
 * instead of taking "now" keeps a reply that was slow to arrive from failing this.
 */
export function assertLifetimeMatchesExp(expiresIn, token, reply, what = 'expires_in') {
  const { exp } = jose.decodeJwt(token);
  assert.ok(Number.isFinite(reply?.sentAt) && Number.isFinite(reply?.receivedAt),
    `${what}: pass the reply of Client.request(), which knows when it was sent and received`);
  const most = exp - Math.floor(reply.sentAt / 1000) + 1;
  const least = exp - Math.floor(reply.receivedAt / 1000) - 1;
  assert.ok(expiresIn >= least && expiresIn <= most,
    `${what} ${expiresIn} but the token's exp ${exp} leaves ${least + 1}..${most - 1} s `
    + 'between the request and its reply');
}

/** Sleep until the wall clock is past unix second `sec` (plus ms of margin). */
export async function sleepUntilSec(sec, marginMs = 100) {
  const ms = sec * 1000 + marginMs - Date.now();
  if (ms > 0) await sleep(ms);
}

export { jose, WebSocket, assert };
