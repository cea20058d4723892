// Web security headers (the hardening issue): every response — pages, API
// answers and error pages — carries the CSP, anti-framing, nosniff and
// referrer headers; the CSP allows no inline code and lets pages talk only to
// our own origin.
import { test, before, after, assert, startBroker, stopAll, get } from './harness.mjs';

let broker;
before(async () => { broker = await startBroker(); });
after(async () => { await stopAll(); });

function directives(csp) {
  const map = new Map();
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

for (const path of ['/', '/m/', '/app.html', '/qrlogin.js', '/healthz', '/api/me', '/no-such-file']) {
  test(`${path}: CSP, frame-ancestors 'none', X-Frame-Options, nosniff, no-referrer`, async () => {
    const r = await get(broker, path);
    const csp = r.headers.get('content-security-policy');
    assert.ok(csp, `${path}: no Content-Security-Policy (status ${r.status})`);
    const d = directives(csp);
    assert.deepEqual(d.get('frame-ancestors'), ["'none'"], `${path}: frame-ancestors in ${csp}`);
    assert.deepEqual(d.get('default-src'), ["'none'"], `${path}: default-src in ${csp}`);
    assert.deepEqual(d.get('script-src'), ["'self'"], `${path}: script-src allows more than self`);
    for (const [name, values] of d) {
      assert.ok(!values.includes("'unsafe-inline'") && !values.includes("'unsafe-eval'"),
        `${path}: ${name} allows inline or eval code`);
    }
    const wsOrigin = broker.url.replace(/^http/, 'ws');
    const connect = d.get('connect-src') || [];
    assert.ok(connect.every((v) => v === "'self'" || v === wsOrigin),
      `${path}: connect-src reaches beyond our own origin: ${connect.join(' ')}`);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', `${path}: Referrer-Policy`);
  });
}
