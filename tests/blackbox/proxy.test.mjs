// Behind a real reverse proxy (nginx): docs/protocol.md §1 (the WebSocket upgrade through a
// proxy), §3/§4 ticket.info.pc.ip, and §8 --trusted-proxy: X-Forwarded-For is believed only
// from the proxies named there, and only as far as they vouch for it.
//
// Addresses (all loopback, Linux routes the whole 127/8 to lo):
//   127.0.0.1  test clients (the PC, the phone), and whoever forges headers
//   127.0.0.2  nginx's side towards the brokers (proxy_bind) — the trusted proxy
//   127.0.0.3  a test client playing an outer proxy/CDN hop that is trusted too
// Broker T runs with --trusted-proxy 127.0.0.2 --trusted-proxy 127.0.0.3; broker U with none.
// nginx listens on two ports: one in front of T, one in front of U.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  test, before, after, assert, startBroker, stopAll, makeDataDir, connect, phoneLogin, qrLogin,
  pcTicket, httpRequest, freePort, sleep, decodeJwt, PC_UA,
} from './harness.mjs';

const NGINX = process.env.QRLOGIN_NGINX || '/usr/sbin/nginx';
const skip = existsSync(NGINX) ? false : `${NGINX} not found (apt-get install -y nginx)`;

const PROXY_ADDR = '127.0.0.2';
const OUTER_HOP = '127.0.0.3';
const CLIENT_IP = '203.0.113.9';

let dir;
let nginx = null;
let nginxLog = '';
let portT;
let portU;
let trusted;
let untrusted;
let phone;

function nginxConf(upstreamT, upstreamU) {
  const loc = (upstream) => `
        location / {
            proxy_pass http://127.0.0.1:${upstream};
            proxy_bind ${PROXY_ADDR};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 300s;
            proxy_buffering off;
        }`;
  // Run as root, nginx's workers become `nobody`, who cannot enter our 0700 temp dir; they
  // never need to: responses are not buffered to disk (proxy_buffering off) and no request
  // body here is near client_body_buffer_size.
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${portT};${loc(upstreamT)}
    }
    server {
        listen 127.0.0.1:${portU};${loc(upstreamU)}
    }
}
`;
}

function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function startNginx() {
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(trusted.port, untrusted.port));
  const proc = spawn(NGINX, ['-c', conf, '-p', `${dir}/`, '-e', path.join(dir, 'error.log')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.setEncoding('utf8').on('data', (d) => { nginxLog += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { nginxLog += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(`exit ${code} ${sig}`)));
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    if (await tcpOpen(portT) && await tcpOpen(portU)) return { proc, exited };
    await sleep(50);
  }
  proc.kill('SIGKILL');
  const why = await exited;
  let log = '';
  try { log = readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { /* none */ }
  throw new Error(`nginx did not come up (${why})\n${nginxLog}\n${log}`);
}

async function setUp() {
  portT = await freePort();
  do portU = await freePort(); while (portU === portT);
  const publicT = `http://127.0.0.1:${portT}`;
  const publicU = `http://127.0.0.1:${portU}`;
  trusted = await startBroker({
    users: [['alice', 'alice-pw-1']],
    args: ['--public-url', publicT, '--trusted-proxy', PROXY_ADDR, '--trusted-proxy', OUTER_HOP],
  });
  untrusted = await startBroker({
    users: [['alice', 'alice-pw-1']],
    args: ['--public-url', publicU],
  });
  nginx = await startNginx();
}

before(async () => {
  if (skip) return;
  dir = makeDataDir();
  mkdirSync(path.join(dir, 'logs')); // nginx's default log dir under -p, before -e applies
  // nginx's ports are chosen before the brokers start (they are the brokers' public URL);
  // if someone takes one meanwhile, start over on new ports.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await setUp();
      return;
    } catch (e) {
      if (attempt === 3) throw e;
      await stopAll();
    }
  }
});

after(async () => {
  if (phone) phone.close();
  if (nginx) {
    nginx.proc.kill('SIGTERM'); // nginx: fast shutdown
    const t = setTimeout(() => nginx.proc.kill('SIGKILL'), 5000);
    await nginx.exited;
    clearTimeout(t);
  }
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A PC socket (through `via`: a URL) asks for a ticket; the phone on `broker` scans it. */
async function pcIpSeen(broker, via, { xff, localAddress } = {}) {
  const headers = { 'User-Agent': PC_UA };
  if (xff !== undefined) headers['X-Forwarded-For'] = xff;
  const wsOptions = localAddress ? { localAddress } : {};
  const pc = await connect(via, { headers, wsOptions });
  try {
    const t = await pcTicket(pc, { name: 'proxy test PC' });
    const { ws } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    try {
      const info = await ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
      return info.pc.ip;
    } finally {
      ws.close();
    }
  } finally {
    pc.close();
  }
}

const viaNginx = (port) => `ws://127.0.0.1:${port}/ws`;

test('through nginx: HTTP and the whole QR login over the proxied WebSocket', { skip }, async () => {
  const h = await httpRequest(`http://127.0.0.1:${portT}/healthz`);
  assert.equal(h.status, 200, `GET /healthz via nginx: ${h.status} ${h.body}`);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
  // The PC and the phone both reach the broker through nginx.
  const proxied = { wsUrl: viaNginx(portT), url: `http://127.0.0.1:${portT}` };
  ({ ws: phone } = await phoneLogin(proxied, 'alice', 'alice-pw-1'));
  const { pc, ticket, info, login } = await qrLogin(proxied, phone);
  assert.equal(ticket.url, `http://127.0.0.1:${portT}/m/#t=${ticket.ticket}`,
    'the QR points at the public URL (the proxy), not at the broker');
  assert.equal(info.pc.ip, '127.0.0.1', 'a PC that sent no X-Forwarded-For is shown at its own address');
  assert.equal(decodeJwt(login.access_token).iss, `http://127.0.0.1:${portT}`);
  // The socket stays usable after the login through the proxy.
  const me = await httpRequest(`http://127.0.0.1:${portT}/api/me`,
    { headers: { Authorization: `Bearer ${login.access_token}` } });
  assert.equal(me.status, 200, me.body);
  pc.close();
  phone.close();
  phone = null;
});

test('trusted proxy chain: the client address from X-Forwarded-For is shown', { skip }, async () => {
  // The PC comes from a trusted outer hop (127.0.0.3) that says the client is 203.0.113.9;
  // nginx appends 127.0.0.3: "203.0.113.9, 127.0.0.3".
  assert.equal(await pcIpSeen(trusted, viaNginx(portT), { xff: CLIENT_IP, localAddress: OUTER_HOP }),
    CLIENT_IP);
  // Only the entries trusted proxies vouch for count: the leftmost one is the client's own
  // claim, which nobody checked.
  assert.equal(await pcIpSeen(trusted, viaNginx(portT),
    { xff: `198.51.100.7, ${CLIENT_IP}`, localAddress: OUTER_HOP }), CLIENT_IP);
});

test('a client forging X-Forwarded-For through the trusted proxy is shown as itself', { skip }, async () => {
  // nginx sees 127.0.0.1 and appends it: "203.0.113.9, 127.0.0.1"; 127.0.0.1 is no proxy.
  assert.equal(await pcIpSeen(trusted, viaNginx(portT), { xff: CLIENT_IP }), '127.0.0.1');
});

test('a direct connection forging X-Forwarded-For is shown as itself', { skip }, async () => {
  // Straight to the trusted-proxy broker from 127.0.0.1, which is not a trusted proxy.
  assert.equal(await pcIpSeen(trusted, trusted.wsUrl, { xff: CLIENT_IP }), '127.0.0.1');
  // The header is believed by peer address alone: from the proxy's address it counts.
  assert.equal(await pcIpSeen(trusted, trusted.wsUrl, { xff: CLIENT_IP, localAddress: PROXY_ADDR }),
    CLIENT_IP);
});

test('without --trusted-proxy X-Forwarded-For is ignored: the proxy is the client', { skip }, async () => {
  assert.equal(await pcIpSeen(untrusted, viaNginx(portU), { xff: CLIENT_IP, localAddress: OUTER_HOP }),
    PROXY_ADDR);
  assert.equal(await pcIpSeen(untrusted, untrusted.wsUrl, { xff: CLIENT_IP }), '127.0.0.1');
});
