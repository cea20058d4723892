// A minimal Node web application (a "relying party") that signs its users in through
// qrlogin with OpenID Connect: authorization code + PKCE, the openid-client library
// unmodified, the QR on qrlogin's hosted page. docs/oidc.md walks through it;
// tests/browser/oidc.test.mjs runs it in Chromium with a phone confirming.
//
//   node web-rp.mjs https://login.example.com my-app CLIENT_SECRET 3000
//
// Routes: /login starts a sign-in, /callback finishes it, /logout ends it at qrlogin too.
import http from 'node:http';
import * as client from 'openid-client';

/**
 * Starts the application on 127.0.0.1:port (0: any free port). Resolves
 * {url, config, server, sessions, close()}; sessions maps the app's session cookie to
 * {tokens, claims}.
 *   issuer        the broker's public URL
 *   clientId      registered with `clientadd NAME --redirect-uri http://127.0.0.1:PORT/callback`
 *   clientSecret  what clientadd printed (a public client would pass none and use
 *                 client.None())
 *   insecure      allow a plain http:// issuer (only for a broker on this machine)
 */
export async function startRp({ issuer, clientId, clientSecret, port = 0, insecure = false }) {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret,
    client.ClientSecretBasic(clientSecret),
    insecure ? { execute: [client.allowInsecureRequests] } : undefined);
  const pending = new Map();  // state -> {verifier, nonce}: sign-ins under way
  const sessions = new Map(); // cookie -> {tokens, claims}
  let base;

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, base);
    try {
      if (url.pathname === '/login') {
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        pending.set(state, { verifier, nonce });
        const to = client.buildAuthorizationUrl(config, {
          redirect_uri: `${base}/callback`,
          scope: 'openid profile',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        res.writeHead(302, { Location: to.href }).end();
      } else if (url.pathname === '/callback') {
        const p = pending.get(url.searchParams.get('state'));
        if (!p) throw new Error('unknown or used state');
        pending.delete(url.searchParams.get('state'));
        // Checks state, iss (RFC 9207), exchanges the code with the PKCE verifier and
        // validates the ID token (signature from the JWKS, iss, aud, exp, nonce).
        const tokens = await client.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: p.verifier,
          expectedState: url.searchParams.get('state'),
          expectedNonce: p.nonce,
        });
        const claims = tokens.claims();
        const cookie = client.randomState();
        sessions.set(cookie, { tokens, claims });
        res.writeHead(200, { 'Set-Cookie': `rp=${cookie}; HttpOnly; Path=/`, 'Content-Type': 'text/html' })
          .end(`<p id="hello">Hello ${claims.name}</p>`);
      } else if (url.pathname === '/logout') {
        const cookie = /rp=([^;]+)/.exec(req.headers.cookie || '')?.[1];
        const s = sessions.get(cookie);
        sessions.delete(cookie);
        const to = client.buildEndSessionUrl(config, {
          id_token_hint: s ? s.tokens.id_token : '',
          post_logout_redirect_uri: `${base}/`,
        });
        res.writeHead(302, { Location: to.href }).end();
      } else {
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<p id="home">Signed out</p>');
      }
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`sign-in failed: ${err.message}`);
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  return { url: base, config, server, sessions, close: () => new Promise((r) => server.close(r)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [issuer, clientId, clientSecret, port] = process.argv.slice(2);
  const rp = await startRp({ issuer, clientId, clientSecret, port: Number(port || 3000),
    insecure: new URL(issuer).protocol === 'http:' });
  console.log(`open ${rp.url}/login`);
}
