// Helpers shared by the OIDC black-box tests (oidc_*.test.mjs): registering clients with
// the real `clientadd` command against a broker's store, talking to /token and friends as
// a plain HTTP client, and the phone's part of a device or authorize ticket.
import { runCli, PBKDF2, assert, phoneLogin } from './harness.mjs';

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
