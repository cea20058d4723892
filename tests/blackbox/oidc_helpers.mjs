// Helpers shared by the OIDC black-box tests (oidc_*.test.mjs): registering clients with
// the real `clientadd` command against a broker's store, talking to /token and friends as
// a plain HTTP client, and the phone's part of a device or authorize ticket.
import { createHash, randomBytes } from 'node:crypto';
import { runCli, PBKDF2, assert, phoneLogin, connect, PC_UA } from './harness.mjs';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The store arguments of a broker (one node, or a cluster's Redis). */
export function storeArgs(broker) {
  return broker.redis ? ['--store', broker.redis.url] : ['--data-dir', broker.dataDir];
}

/**
 * `qrlogin-broker clientadd NAME ...args` against broker's store; asserts exit 0 and
 * resolves the generated secret (or undefined).
 */
export async function addClient(broker, name, args, { secret } = {}) {
  const all = ['clientadd', ...storeArgs(broker), ...PBKDF2, ...args, name];
  if (secret !== undefined) all.splice(1, 0, '--secret-from-stdin');
  const r = await runCli(all, { input: secret !== undefined ? `${secret}\n` : undefined });
  assert.equal(r.code, 0, `clientadd ${name}: ${r.stdout}${r.stderr}`);
  const m = /client_secret: (\S+)/.exec(r.stdout);
  return m ? m[1] : undefined;
}

/** POST a form to a broker path; resolves {status, headers, json, body}. */
export async function postForm(broker, path, fields, headers = {}) {
  const res = await fetch(`${broker.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  const body = await res.text();
  let json;
  try { json = JSON.parse(body); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, body };
}

export function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The ticket a verification_uri_complete (or a `login` QR URL) carries after #t=. */
export function ticketOf(url) {
  const m = /#t=([A-Za-z0-9_-]+)$/.exec(url);
  assert.ok(m, `no #t=<ticket> in ${url}`);
  return m[1];
}

/** A phone signed in as name scans ticket (or typed user code) and confirms or denies. */
export async function phoneDecides(broker, name, password, { ticket, userCode, confirm = true }) {
  const { ws } = await phoneLogin(broker, name, password);
  const scan = ticket ? { type: 'ticket.scan', ticket } : { type: 'ticket.scan', user_code: userCode };
  const info = await ws.call(scan, 'ticket.info');
  await ws.call({ type: confirm ? 'ticket.confirm' : 'ticket.deny', ticket: info.ticket }, 'ok');
  return { ws, info };
}

/** A PKCE pair (RFC 7636 S256). */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(broker, params) {
  return `${broker.url}/authorize?${new URLSearchParams(params)}`;
}

export async function getNoFollow(url) {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

/**
 * The code flow as the hosted page runs it: GET /authorize on nodes.authorize → the
 * page's handle; the page's socket on nodes.pc asks ticket.new {authorize}; a phone of
 * user on nodes.phone scans and confirms; the page's `login` carries the redirect.
 * Resolves {code, pc, phone}.
 */
export async function codeVia(nodes, params, user) {
  const r = await getNoFollow(authorizeUrl(nodes.authorize, params));
  assert.equal(r.status, 302, `authorize: ${r.status} ${r.body}`);
  const m = /^\/#authz=([A-Za-z0-9_-]+)$/.exec(r.location);
  assert.ok(m, `authorize sent the browser to ${r.location}, not the hosted page`);
  const pc = await connect(nodes.pc, { headers: { 'User-Agent': PC_UA } });
  const t = await pc.call({ type: 'ticket.new', authorize: m[1] }, 'ticket');
  const { ws: phone } = await phoneLogin(nodes.phone, ...user);
  const info = await phone.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
  assert.equal(info.pc.client_name, params.client_id);
  await phone.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
  const login = await pc.next('login');
  assert.equal(login.access_token, undefined, 'the page gets no tokens');
  assert.equal(login.refresh_token, undefined, 'the page gets no tokens');
  const back = new URL(login.redirect);
  assert.equal(`${back.origin}${back.pathname}`, params.redirect_uri);
  assert.equal(back.searchParams.get('state'), params.state ?? null);
  assert.equal(back.searchParams.get('iss'), nodes.authorize.issuer || nodes.authorize.url);
  return { code: back.searchParams.get('code'), pc, phone };
}
