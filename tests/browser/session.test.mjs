// After login: the refresh demo on /app.html refreshes once for five calls
// (and the broker counts exactly one refresh), and a session ended on the
// phone sends the PC back to the login page at once.

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  loginViaQr, expectText, expectPcState, artifact, metric, phoneSignIn, WAIT,
} from './browser.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('sessions in the browser', { skip: skip || false }, () => {
  let broker;
  let browser;
  let pc;
  let phone;

  before(async () => {
    broker = await startBroker({ users: [['dave', 'pw-dave']] });
    browser = await launch();
    ({ pc, phone } = await loginViaQr(browser, broker, 'dave', 'pw-dave'));
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('the burst of 5 API calls makes exactly one refresh', async () => {
    const before = await metric(broker, 'qrlogin_refresh_total', { result: 'ok' });
    await pc.getByTestId('burst').click();
    const result = pc.locator('[data-testid="burst-result"][data-refreshes]');
    await result.waitFor({ state: 'visible', timeout: 45000 });
    const text = await result.textContent();
    assert.equal(text, '5 calls, 1 refresh', `burst result: ${text}`);
    assert.equal(await result.getAttribute('data-refreshes'), '1');
    assert.equal(await result.getAttribute('data-ok'), '5', 'not every call succeeded after the refresh');
    const afterOk = await metric(broker, 'qrlogin_refresh_total', { result: 'ok' });
    assert.equal(afterOk - before, 1, `qrlogin_refresh_total{result="ok"} went from ${before} to ${afterOk}`);
    await expectText(pc.getByTestId('refresh-count'), /^1$/, 'app page: refresh count');
    await pc.screenshot({ path: artifact('app-burst.png') });
    pc.assertClean();
  });

  test('revoking the PC session on the phone sends /app.html back to the login page', async () => {
    // The phone still shows its confirmation; "Done" opens the account view.
    await phone.getByTestId('done').click();
    const web = phone.locator('li[data-kind="web"]');
    await web.first().waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await web.count(), 1, 'the phone lists one web session');
    await expectText(web.getByTestId('session-from'), /^Signed in from Chrome on Linux, 127\.0\.0\.1 at /,
      'phone: the web session line');
    await expectText(phone.getByTestId('history-item'), /Approved.*Chrome on Linux, 127\.0\.0\.1/,
      'phone: recent approvals');
    await phone.screenshot({ path: artifact('phone-sessions.png'), fullPage: true });

    await web.getByTestId('revoke').click();
    await pc.waitForURL(`${broker.url}/`, { timeout: WAIT });
    await expectPcState(pc, 'waiting');
    assert.equal(await pc.locator('#signed-in-note').isVisible(), false, 'the PC still thinks it is signed in');
    await phone.locator('li[data-kind="web"]').waitFor({ state: 'detached', timeout: WAIT });
    pc.assertClean();
    phone.assertClean();
  });

  test('"log out everywhere" (dialog accepted) signs out the PC and the phone', async () => {
    await pc.context().close();
    ({ pc } = await loginViaQr(browser, broker, 'dave', 'pw-dave', { phone }));
    await phone.getByTestId('done').click();
    await phone.locator('li[data-kind="web"]').first().waitFor({ state: 'visible', timeout: WAIT });
    phone.once('dialog', (d) => d.accept());
    await phone.getByTestId('logout-all').click();
    await pc.waitForURL(`${broker.url}/`, { timeout: WAIT });
    await expectText(phone.locator('#notice'), /signed out on all devices/, 'phone: notice after logout.all');
    await phone.locator('input[name=username]').waitFor({ state: 'visible', timeout: WAIT });
    // Signing in again works.
    await phoneSignIn(phone, 'dave', 'pw-dave');
    await expectText(phone.getByTestId('user'), /^dave$/, 'phone: account after signing in again');
    pc.assertClean();
    phone.assertClean();
  });
});
