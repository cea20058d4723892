// The person's path, in a real browser: the PC shows a QR code, a phone camera
// reads it (a screenshot decoded by zbarimg), the phone page signs in, shows
// which computer is asking, and confirms — or denies.

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, phonePage, readTicket, phoneSignIn, loginViaQr, expectText, expectPcState,
  artifact, currentQr, waitForNewQr, WAIT,
} from './browser.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('QR login in the browser', { skip: skip || false }, () => {
  let broker;
  let browser;
  let phone; // the phone page of the first test, still signed in

  before(async () => {
    broker = await startBroker({ users: [['alice', 'pw-alice']] });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('scan, sign in on the phone, see the PC, confirm → the PC lands on /app.html', async () => {
    const r = await loginViaQr(browser, broker, 'alice', 'pw-alice', {
      shots: { qr: 'qr-login.png', pcWaiting: 'pc-waiting.png', phoneConfirm: 'phone-confirm.png', pcScanned: 'pc-scanned.png' },
    });
    phone = r.phone;
    const { pc } = r;

    // The phone described the computer that asked: its browser, system and IP.
    assert.equal(await phone.getByTestId('pc-browser').textContent(), 'Chrome');
    assert.equal(await phone.getByTestId('pc-os').textContent(), 'Linux');
    assert.equal(await phone.getByTestId('pc-ip').textContent(), '127.0.0.1');
    // The ticket was taken out of the phone's address bar at once.
    assert.ok(!phone.url().includes('#t='), `the ticket is still in the phone URL: ${phone.url()}`);

    await pc.screenshot({ path: artifact('pc-signed-in.png') });
    await phone.screenshot({ path: artifact('phone-confirmed.png') });

    // The PC holds a working sign-in: /api/me with its token names the user.
    const me = await pc.evaluate(async () => (await window.qrlogin.fetch('/api/me')).json());
    assert.equal(me.name, 'alice');
    pc.assertClean();
    phone.assertClean();
    await pc.context().close();
  });

  test('deny on the phone → the PC says denied and offers a new code that works', async () => {
    assert.ok(phone, 'needs the signed-in phone of the previous test');
    const pc = await pcPage(browser);
    await pc.goto(`${broker.url}/`);
    const first = await readTicket(pc, broker, artifact('qr-deny.png'));
    const qr = await currentQr(pc);

    // A second scan while the phone page is open: only the #hash changes.
    await phone.goto(first.url);
    await phone.getByTestId('deny').waitFor({ state: 'visible', timeout: WAIT });
    await expectPcState(pc, 'scanned');
    await phone.getByTestId('deny').click();

    await expectText(phone.getByTestId('result'), /Denied/, 'phone: result after deny');
    await expectPcState(pc, 'denied');
    await expectText(pc.getByTestId('status'), /Denied on the phone/, 'PC status after deny');
    await pc.getByTestId('new-code').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await pc.getByTestId('qr').evaluate((el) => el.classList.contains('qr-dead')), true,
      'the dead QR is not faded out');
    await pc.screenshot({ path: artifact('pc-denied.png') });

    await pc.getByTestId('new-code').click();
    await waitForNewQr(pc, qr);
    await expectPcState(pc, 'waiting');
    const second = await readTicket(pc, broker, artifact('qr-after-deny.png'));
    assert.notEqual(second.ticket, first.ticket, 'the new code carries the old ticket');
    assert.equal(await pc.getByTestId('new-code').isVisible(), false);

    // The new code works: the phone can scan it.
    await phone.goto(second.url);
    await phone.getByTestId('confirm').waitFor({ state: 'visible', timeout: WAIT });
    await expectPcState(pc, 'scanned');
    pc.assertClean();
    phone.assertClean();
    await pc.context().close();
  });

  test('a wrong password is refused on the phone form', async () => {
    const ph = await phonePage(browser);
    await ph.goto(`${broker.url}/m/`);
    await phoneSignIn(ph, 'alice', 'not-her-password');
    await expectText(ph.locator('#signin-error'), /Wrong username or password/, 'phone: sign-in error');
    ph.assertClean();
    await ph.context().close();
  });
});
