// "The app's identity provider" for the federation tests: the unmodified npm oidc-provider
// on loopback, issuing JWT access tokens (client_credentials + resource indicators) for the
// audience the broker trusts. Wrapped in our own HTTP server so a test can count JWKS
// requests, rotate the signing key (a new Provider with a new first key, same issuer) and
// take the whole endpoint down and up again on the same port.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';
import { freePort } from './harness.mjs';

export const AUDIENCE = 'urn:qrlogin:blackbox';
const CLIENT = { id: 'phone-app', secret: 'phone-app-secret-0123456789' };

/** A private RSA JWK with kid, for the provider (and for crafting tokens in tests). */
export async function rsaKey(kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, jwk, pub, privateKey, publicKey };
}

function makeProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    }],
    jwks: { keys: keys.map((k) => k.jwk) },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'login',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // The app's user as the token names them (the broker shows it as user.name).
    extraTokenClaims: () => ({ name: 'Alice Example' }),
  });
  provider.on('server_error', (ctx, err) => { console.error('oidc-provider:', err); });
  return provider;
}

export class Idp {
  static async start() {
    const idp = new Idp();
    idp.port = await freePort();
    idp.issuer = `http://127.0.0.1:${idp.port}`;
    idp.keys = [await rsaKey('idp-key-1')];
    idp.provider = makeProvider(idp.issuer, idp.keys);
    idp.jwksHits = 0;
    idp.server = http.createServer((req, res) => {
      if (req.url.startsWith('/jwks')) idp.jwksHits += 1;
      idp.provider.callback()(req, res);
    });
    await idp.listen();
    return idp;
  }

  get jwksUrl() { return `${this.issuer}/jwks`; }

  /** The --trust-issuer spec for this provider. The JWKS URL names the host (the broker
   * resolves it off its event loop); the issuer stays exactly what the tokens say. */
  spec(extra = '') { return `${this.issuer} jwks=http://localhost:${this.port}/jwks aud=${AUDIENCE}${extra}`; }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  /** A real access token from the provider's token endpoint. */
  async token() {
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'login', resource: AUDIENCE }),
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`oidc-provider /token: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** Key rotation as a provider does it: a new signing key first, the old one still published. */
  async rotate(kid) {
    this.keys = [await rsaKey(kid), ...this.keys];
    this.provider = makeProvider(this.issuer, this.keys);
    return this.keys[0];
  }

  /** The endpoint goes away (connections refused) until up(). */
  async down() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async up() { await this.listen(); }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Signs claims with key (an rsaKey), as the provider would but with whatever we choose. */
export async function craft(key, claims, header = {}) {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}
