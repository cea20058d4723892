// The same device grant with a second, independent library: oauth4webapi, which leaves
// the polling loop to its caller. tests/blackbox/oidc_device.test.mjs runs it.
import * as oauth from 'oauth4webapi';

const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

export async function deviceLogin({ issuer, clientId, show, insecure = false }) {
  const opts = insecure ? { [oauth.allowInsecureRequests]: true } : {};
  const url = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(url,
    await oauth.discoveryRequest(url, { algorithm: 'oidc', ...opts }));
  const client = { client_id: clientId };
  const auth = oauth.None();
  const authorization = await oauth.processDeviceAuthorizationResponse(as, client,
    await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'openid' }, opts));
  await show(authorization);
  let interval = authorization.interval ?? 5;
  for (;;) {
    await sleep(interval);
    const response = await oauth.deviceCodeGrantRequest(as, client, auth,
      authorization.device_code, opts);
    try {
      const tokens = await oauth.processDeviceCodeResponse(as, client, response);
      return { tokens, claims: oauth.getValidatedIdTokenClaims(tokens) };
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err;
      if (err.error === 'authorization_pending') continue;
      if (err.error === 'slow_down') { interval += 5; continue; } // RFC 8628 §3.5
      throw err; // access_denied, expired_token, invalid_grant
    }
  }
}
