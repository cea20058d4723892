// Cluster mode (docs/cluster.md): several broker nodes on one Redis. Every behaviour of
// docs/protocol.md must hold when the PC and the phone sit on different nodes; a refresh may land
// on any node; revocations reach sockets wherever they are; nodes and Redis may die.
//
// A real redis-server (AOF on) on a free loopback port, and real broker processes that share
// it, one keys directory and one public URL, as they would behind a load balancer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, pcTicket, runCli,
  PBKDF2, PC_UA, PHONE_UA, jose, jwks, getJson, get, sleep, decodeJwt, eventually,
} from './harness.mjs';
import { startRedis } from './redis.mjs';

const USER = ['carol', 'carol-pw-1'];

async function useradd(redis, name, password) {
  const r = await runCli(['useradd', '--store', redis.url, ...PBKDF2, name], { input: `${password}\n` });
  assert.equal(r.code, 0, `useradd over Redis: ${r.stdout}${r.stderr}`);
}

/** A counter of /metrics, e.g. counter(A, 'qrlogin_refresh_total{result="ok"}'). */
async function counter(node, series) {
  const r = await get(node, '/metrics');
  const line = r.body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function refreshCounts(nodes) {
  let ok = 0;
  let grace = 0;
  for (const n of nodes) {
    ok += await counter(n, 'qrlogin_refresh_total{result="ok"}');
    grace += await counter(n, 'qrlogin_refresh_total{result="grace"}');
  }
  return { ok, grace };
}

async function health(node) {
  // a fresh connection each time, so that with --workers the kernel may pick any worker
  const r = await get(node, '/healthz', { connection: 'close' });
  return { status: r.status, body: JSON.parse(r.body), node: r.headers.get('x-qrlogin-node') };
}

class Cluster {
  constructor() {
    this.keysDir = mkdtempSync(path.join(tmpdir(), 'qrlogin-keys-'));
    this.nodes = [];
  }

  async start(n, extraArgs = []) {
    this.redis = await startRedis({ aof: true });
    // The first node creates the keys; the others start once they exist, as an operator
    // would (docs/cluster.md: run keygen once, share the directory).
    for (let i = 0; i < n; i += 1) await this.addNode(extraArgs);
    await useradd(this.redis, ...USER);
    return this;
  }

  args(extra = []) {
    const pub = this.publicUrl || (this.nodes.length ? this.nodes[0].url : null);
    return ['--store', this.redis.url, '--keys-dir', this.keysDir,
      // No test here waits for a grace to end, and the replays of a grace must land inside
      // it even on nodes under valgrind (valgrind_cluster): a long one costs nothing.
      ...(pub ? ['--public-url', pub] : []), '--refresh-interval', '1', '--refresh-grace', '300',
      ...extra];
  }

  async addNode(extra = [], opts = {}) {
    const node = await startBroker({ args: this.args(extra), ...opts });
    this.nodes.push(node);
    return node;
  }

  async dispose() {
    try {
      await stopAll(); // asserts each node exited 0 (under valgrind: no leak)
    } finally {
      if (this.redis) await this.redis.dispose();
      rmSync(this.keysDir, { recursive: true, force: true });
    }
  }
}

async function phoneOn(node) {
  const phone = await connect(node, { headers: { 'User-Agent': PHONE_UA } });
  const auth = await phone.call({ type: 'auth.password', username: USER[0], password: USER[1] }, 'auth');
  return { phone, auth };
}

/** PC on pcNode, phone on phone's node: the whole flow; returns {pc, ticket, info, login}. */
async function crossLogin(pcNode, phone) {
  const pc = await connect(pcNode, { headers: { 'User-Agent': PC_UA } });
  const ticket = await pcTicket(pc, { name: 'cluster PC' });
  const info = await phone.call({ type: 'ticket.scan', ticket: ticket.ticket }, 'ticket.info');
  const scanned = await pc.next('ticket.scanned');
  assert.equal(scanned.user.name, USER[0]);
  const ok = await phone.call({ type: 'ticket.confirm', ticket: ticket.ticket }, 'ok');
  assert.equal(ok.ticket, ticket.ticket);
  const login = await pc.next('login');
  return { pc, ticket, info, login };
}

describe('two nodes on one Redis', () => {
  const cl = new Cluster();
  let A;
  let B;
  before(async () => {
    await cl.start(2);
    [A, B] = cl.nodes;
  });
  after(() => cl.dispose());

  test('each node is healthy and names itself; both publish the same JWKS', async () => {
    const [ha, hb] = [await health(A), await health(B)];
    assert.equal(ha.status, 200);
    assert.equal(hb.status, 200);
    assert.deepEqual(ha.body, { status: 'ok' }, 'the body docs/protocol.md §1 gives');
    assert.match(ha.node, /^[0-9a-f]{6}$/, 'x-qrlogin-node names the node');
    assert.notEqual(ha.node, hb.node, 'two nodes, two node ids');
    assert.deepEqual(await jwks(A), await jwks(B));
  });

  test('PC on A, phone on B: scan shows the PC, confirm pushes login to A', async () => {
    const { phone } = await phoneOn(B);
    const { pc, info, login } = await crossLogin(A, phone);
    assert.equal(info.pc.user_agent, PC_UA);
    assert.equal(info.pc.client_name, 'cluster PC');
    assert.equal(info.pc.ip, '127.0.0.1');
    assert.equal(login.user.name, USER[0]);
    // the access token verifies against either node's JWKS (the issuer is the shared URL)
    for (const n of [A, B]) {
      const keys = jose.createLocalJWKSet(await jwks(n));
      const { payload } = await jose.jwtVerify(login.access_token, keys,
        { issuer: A.url, audience: A.url, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(payload.sid, login.session_id);
    }
    const me = await getJson(B, '/api/me', { Authorization: `Bearer ${login.access_token}` });
    assert.equal(me.status, 200);
    pc.close();
    phone.close();
  });

  test('deny on B reaches the PC on A; the ticket is then gone everywhere', async () => {
    const { phone } = await phoneOn(B);
    const pc = await connect(A);
    const t = await pcTicket(pc);
    await phone.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await pc.next('ticket.scanned');
    await phone.call({ type: 'ticket.deny', ticket: t.ticket }, 'ok');
    await pc.next('ticket.denied');
    await phone.fails({ type: 'ticket.confirm', ticket: t.ticket }, ['not_found']);
    pc.close();
    phone.close();
  });

  test('another user cannot take a ticket bound on another node (conflict), by id routing', async () => {
    await useradd(cl.redis, 'dave', 'dave-pw-1');
    const { phone } = await phoneOn(B);
    const dave = await connect(A);
    await dave.call({ type: 'auth.password', username: 'dave', password: 'dave-pw-1' }, 'auth');
    const pc = await connect(A);
    const t = await pcTicket(pc);
    await phone.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    // dave is on A, the ticket's own node: answered there
    await dave.fails({ type: 'ticket.scan', ticket: t.ticket }, ['conflict']);
    // an unknown ticket asked on B: not_found, not silence
    await phone.fails({ type: 'ticket.scan', ticket: 'A'.repeat(22) }, ['not_found']);
    // the PC leaves: the phone on B is told the ticket is cancelled
    pc.close();
    const cancelled = await phone.next('ticket.cancelled');
    assert.equal(cancelled.ticket, t.ticket);
    phone.close();
    dave.close();
  });

  test('refresh on the node that did not issue; a retry on the other gets the same pair', async () => {
    const { phone } = await phoneOn(B);
    const { pc, login } = await crossLogin(A, phone);
    await sleep(1100); // past --refresh-interval 1
    const onB = await connect(B);
    const t1 = await onB.call({ type: 'token.refresh', refresh_token: login.refresh_token }, 'token');
    assert.notEqual(t1.refresh_token, login.refresh_token);
    const t1again = await pc.call({ type: 'token.refresh', refresh_token: login.refresh_token }, 'token');
    assert.equal(t1again.refresh_token, t1.refresh_token, 'grace replay on A returns B\'s pair');
    assert.equal(t1again.access_token, t1.access_token);
    pc.close();
    phone.close();
    onB.close();
  });

  test('the same refresh token on both nodes at the same instant → one rotation, one pair', async () => {
    const { phone } = await phoneOn(A);
    const { pc, login } = await crossLogin(B, phone);
    const a = await connect(A);
    const b = await connect(B);
    const before = await refreshCounts([A, B]);
    for (let round = 0; round < 3; round += 1) {
      await sleep(1100);
      const token = round === 0 ? login.refresh_token : a.lastToken;
      const [ra, rb] = await Promise.all([
        a.request({ type: 'token.refresh', refresh_token: token }),
        b.request({ type: 'token.refresh', refresh_token: token }),
      ]);
      assert.equal(ra.type, 'token', JSON.stringify(ra));
      assert.equal(rb.type, 'token', JSON.stringify(rb));
      assert.equal(ra.refresh_token, rb.refresh_token, 'both nodes answer with the same pair');
      assert.equal(ra.access_token, rb.access_token);
      assert.notEqual(ra.refresh_token, token);
      a.lastToken = ra.refresh_token;
    }
    // one rotation per round; the other request of each round got that rotation's pair
    const counts = await refreshCounts([A, B]);
    assert.equal(counts.ok - before.ok, 3, 'exactly one rotation per round');
    assert.equal(counts.grace - before.grace, 3, 'the other node answered with the same pair');
    // and the session is alive: the last pair works, nothing was taken for reuse
    await sleep(1100);
    const next = await b.call({ type: 'token.refresh', refresh_token: a.lastToken }, 'token');
    assert.equal(decodeJwt(next.access_token).sid, login.session_id);
    pc.close(); phone.close(); a.close(); b.close();
  });

  test('logout.all on B reaches the PC on A; session.revoke reaches across too', async () => {
    const { phone } = await phoneOn(B);
    const first = await crossLogin(A, phone);
    const second = await crossLogin(A, phone);
    // revoke one session from the phone on B: only that PC on A is told
    await phone.call({ type: 'session.revoke', session_id: first.login.session_id }, 'ok');
    const r1 = await first.pc.next('session.revoked');
    assert.equal(r1.session_id, first.login.session_id);
    // logout.all on B: the other PC on A is told as well
    await phone.call({ type: 'logout.all' }, 'ok');
    const r2 = await second.pc.next('session.revoked');
    assert.equal(r2.reason, 'logout_all');
    const me = await getJson(A, '/api/me', { Authorization: `Bearer ${second.login.access_token}` });
    assert.equal(me.status, 401);
    first.pc.close(); second.pc.close(); phone.close();
  });
});

describe('two nodes starting at once on an empty keys directory', () => {
  const cl = new Cluster();
  after(() => cl.dispose());

  test('they end up with one refresh secret and one JWKS', async () => {
    cl.redis = await startRedis({ aof: false });
    cl.publicUrl = 'http://login.cluster.test'; // as behind a load balancer
    const [A, B] = await Promise.all([cl.addNode(), cl.addNode()]);
    await useradd(cl.redis, ...USER);
    // the refresh secret is written first-writer-wins: a token from A refreshes on B
    const { phone, auth } = await phoneOn(A);
    await sleep(1100);
    const onB = await connect(B);
    const t = await onB.call({ type: 'token.refresh', refresh_token: auth.refresh_token }, 'token');
    assert.equal(decodeJwt(t.access_token).sid, auth.session_id);
    // each may have made a first signing key; the directory watch makes both publish both
    await eventually(async () => JSON.stringify(await jwks(A)) === JSON.stringify(await jwks(B)),
      'both nodes publish the same JWKS');
    phone.close();
    onB.close();
  });
});

describe('faults', () => {
  const cl = new Cluster();
  before(() => cl.start(2));
  after(() => cl.dispose());

  test('a killed node: its PC reconnects to another and gets a new ticket; the old one is dead', async () => {
    const [A, B] = cl.nodes;
    const victim = await cl.addNode();
    const { phone } = await phoneOn(B);
    const pc = await connect(victim);
    const old = await pcTicket(pc);
    const closed = new Promise((resolve) => pc.ws.once('close', resolve));
    await victim.kill();
    await closed;
    // the phone scans the code the dead node showed: a clear not_found, not silence
    await phone.fails({ type: 'ticket.scan', ticket: old.ticket }, ['not_found']);
    // the PC comes back through the load balancer on A, and logs in from B as ever
    const { pc: pc2, login } = await crossLogin(A, phone);
    assert.equal(login.user.name, USER[0]);
    pc2.close();
    phone.close();
  });

  test('Redis restarted: sessions survive (AOF), nodes recover, pushes resume', async () => {
    const [A, B] = cl.nodes;
    const { phone, auth } = await phoneOn(B);
    const { pc, login } = await crossLogin(A, phone);
    const idle = await connect(A);

    await cl.redis.stop();
    // while Redis is away: /healthz 503 and requests answered with an error, never silence
    await eventually(async () => (await health(A)).status === 503, 'A reports 503');
    await eventually(async () => (await health(B)).status === 503, 'B reports 503');
    const err = await idle.request({ type: 'token.refresh', refresh_token: login.refresh_token });
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'internal');
    const t = await idle.request({ type: 'ticket.new' });
    assert.equal(t.type, 'error', 'no code is shown that no other node could find');

    await cl.redis.start();
    await eventually(async () => (await health(A)).status === 200, 'A healthy again');
    await eventually(async () => (await health(B)).status === 200, 'B healthy again');
    // the sessions made before the restart are still there
    await sleep(1100);
    const refreshed = await idle.call({ type: 'token.refresh', refresh_token: login.refresh_token }, 'token');
    assert.equal(decodeJwt(refreshed.access_token).sid, login.session_id);
    const again = await phone.call({ type: 'auth.token', access_token: auth.access_token }, 'auth');
    assert.equal(again.user.name, USER[0]);
    // subscriptions are back: a cross-node login and a cross-node revocation work
    const fresh = await crossLogin(A, phone);
    await phone.call({ type: 'session.revoke', session_id: login.session_id }, 'ok');
    await pc.next('session.revoked');
    fresh.pc.close(); pc.close(); idle.close(); phone.close();
  });

  test('Redis unreachable at start: the node serves /healthz 503, then comes up without a restart', async () => {
    await cl.redis.stop();
    const late = await cl.addNode([], { acceptUnhealthy: true });
    assert.equal((await health(late)).status, 503);
    const c = await connect(late);
    const r = await c.request({ type: 'auth.password', username: USER[0], password: USER[1] });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'internal');
    await cl.redis.start();
    await eventually(async () => (await health(late)).status === 200, 'the late node comes up');
    await c.call({ type: 'auth.password', username: USER[0], password: USER[1] }, 'auth');
    c.close();
  });
});

describe('--workers 2: two processes on one port', () => {
  const cl = new Cluster();
  let W;
  before(async () => {
    await cl.start(1);
    W = await cl.addNode(['--workers', '2']);
  });
  after(() => cl.dispose());

  test('both workers answer on the port; a login across them works', async () => {
    const seen = await eventually(async () => {
      const ids = new Set();
      for (let i = 0; i < 40; i += 1) ids.add((await health(W)).node);
      return ids.size >= 2 ? ids : null;
    }, 'two worker node ids behind one port');
    assert.equal(seen.size, 2);
    const { phone } = await phoneOn(W);
    for (let i = 0; i < 4; i += 1) {
      const { pc, login } = await crossLogin(W, phone);
      assert.equal(login.user.name, USER[0]);
      pc.close();
    }
    phone.close();
  });
});
