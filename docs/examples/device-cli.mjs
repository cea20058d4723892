// A command-line program that signs its user in with the device authorization grant
// (RFC 8628) through qrlogin, using the openid-client library unmodified.
// docs/oidc.md walks through it; tests/blackbox/oidc_device.test.mjs runs it.
//
//   node device-cli.mjs https://login.example.com my-cli
//
// The program prints a code (and a URL for a QR code); the user opens the phone page,
// confirms, and the program receives tokens. No browser and no socket on this machine.
import * as client from 'openid-client';

/**
 * Signs in and resolves {config, tokens, claims}.
 *   issuer    the broker's public URL
 *   clientId  a client registered with `clientadd NAME --public --grant ...device_code`
 *   show      called with the device authorization (user_code, verification_uri,
 *             verification_uri_complete): show it to the user
 *   insecure  allow a plain http:// issuer (only for a broker on this machine)
 */
export async function deviceLogin({ issuer, clientId, show, insecure = false }) {
  const options = insecure ? { execute: [client.allowInsecureRequests] } : undefined;
  // A public client: it holds no secret, so it authenticates with its client_id alone.
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(),
    options);
  const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
  await show(authorization);
  // Polls /token every `interval` seconds (slowing down when told to) until the phone
  // confirms; throws with error "access_denied" or "expired_token" otherwise.
  const tokens = await client.pollDeviceAuthorizationGrant(config, authorization);
  return { config, tokens, claims: tokens.claims() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [issuer, clientId] = process.argv.slice(2);
  const { claims } = await deviceLogin({
    issuer,
    clientId,
    insecure: new URL(issuer).protocol === 'http:',
    show: ({ user_code, verification_uri, verification_uri_complete }) => {
      console.log(`Open ${verification_uri} on your phone and enter ${user_code},`);
      console.log(`or scan a QR code of ${verification_uri_complete}`);
    },
  });
  console.log(`Signed in as ${claims.name} (user ${claims.sub})`);
}
