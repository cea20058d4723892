// The phone page inside an app's WebView (docs/federation.md): the app hands the page the
// JWT it holds from its own identity provider with a postMessage from inside the page, the
// page signs in with auth.external, and the user confirms a PC login without a password.
// The IdP is the unmodified npm oidc-provider (tests/blackbox/idp.mjs).

import {
  test, describe, before, after, startBroker, stopAll, launch, missingPrerequisite,
  loginViaQr, expectText, phonePage, artifact, WAIT,
} from './browser.mjs';
import { Idp } from '../blackbox/idp.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

/** What the native host does: evaluate a postMessage inside the page. */
function handOver(page, message) {
  return page.evaluate((m) => window.postMessage(m, location.origin), message);
}

describe('phone page: sign-in handed over by the embedding app', { skip: skip || false }, () => {
  let idp;
  let broker;
  let browser;

  before(async () => {
    idp = await Idp.start();
    broker = await startBroker({ args: ['--trust-issuer', idp.spec(), '--passwords', 'off'] });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
    if (idp) await idp.stop();
  });

  test('a posted IdP token signs the phone in; it then confirms a PC login', async () => {
    const phone = await phonePage(browser);
    await phone.goto(`${broker.url}/m/`);
    await phone.locator('input[name=username]').waitFor({ state: 'visible', timeout: WAIT });

    // Messages of another shape are ignored; a bad token is reported on the form.
    await handOver(phone, { type: 'something-else', token: await idp.token() });
    await handOver(phone, { type: 'qrlogin.external-token', token: 'not.a.jwt' });
    await expectText(phone.locator('#signin-error'), /could not sign you in \(invalid_token\)/,
      'phone: a refused token');

    await handOver(phone, { type: 'qrlogin.external-token', token: await idp.token() });
    await expectText(phone.getByTestId('user'), /^Alice Example$/, 'phone: signed in as');
    await phone.screenshot({ path: artifact('phone-federated.png') });

    // The page keeps qrlogin's own session: the QR flow needs no further sign-in.
    await loginViaQr(browser, broker, 'Alice Example', null, { phone });
    phone.assertClean();
  });
});
