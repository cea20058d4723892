// Both languages and the basics of accessible markup: the language follows
// navigator.languages, the visible switch changes every string and is
// remembered; the form has real labels and a sensible focus order.

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, phonePage, readTicket, expectText, expectPcState, artifact,
} from './browser.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('languages and accessibility', { skip: skip || false }, () => {
  let broker;
  let browser;

  before(async () => {
    broker = await startBroker({ users: [['erin', 'pw-erin']] });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('a zh-CN browser gets Chinese; the switch changes it and is remembered', async () => {
    const pc = await pcPage(browser, { locale: 'zh-CN' });
    await pc.goto(`${broker.url}/`);
    await expectPcState(pc, 'waiting');
    assert.equal(await pc.evaluate(() => document.documentElement.lang), 'zh-CN');
    await expectText(pc.locator('h1'), /用手机扫码登录/, 'PC heading in Chinese');
    await expectText(pc.getByTestId('status'), /等待手机扫码/, 'PC status in Chinese');
    assert.equal(await pc.getByTestId('lang-zh').getAttribute('aria-pressed'), 'true');
    await readTicket(pc, broker, artifact('qr-zh.png')); // the QR is the same in any language
    await pc.screenshot({ path: artifact('pc-waiting-zh.png') });

    await pc.getByTestId('lang-en').click();
    await expectText(pc.locator('h1'), /^Sign in with your phone$/, 'PC heading after the switch');
    await expectText(pc.getByTestId('status'), /^Waiting for your phone/, 'PC status after the switch');
    assert.equal(await pc.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await pc.getByTestId('lang-en').getAttribute('aria-pressed'), 'true');

    await pc.reload();
    await expectPcState(pc, 'waiting');
    await expectText(pc.locator('h1'), /^Sign in with your phone$/, 'PC heading after a reload');
    pc.assertClean();
    await pc.context().close();
  });

  test('phone page in Chinese, with labelled inputs and a sensible focus order', async () => {
    const phone = await phonePage(browser, { locale: 'zh-CN' });
    await phone.goto(`${broker.url}/m/`);
    const user = phone.getByLabel('用户名');
    await user.waitFor({ state: 'visible' });
    assert.equal(await user.getAttribute('name'), 'username');
    assert.equal(await phone.getByLabel('密码').getAttribute('name'), 'password');

    await user.focus();
    await phone.keyboard.press('Tab');
    assert.equal(await phone.evaluate(() => document.activeElement.name), 'password');
    await phone.keyboard.press('Tab');
    assert.equal(await phone.evaluate(() => document.activeElement.dataset.testid), 'signin');

    await user.fill('erin');
    await phone.getByLabel('密码').fill('pw-erin');
    await phone.getByLabel('密码').press('Enter');
    await expectText(phone.getByTestId('user'), /^erin$/, 'phone: signed in');
    await expectText(phone.locator('#account-title'), /您的账户/, 'phone heading in Chinese');
    await phone.screenshot({ path: artifact('phone-account-zh.png'), fullPage: true });

    // Nothing sticks out sideways on the narrowest phone we design for.
    for (const lang of ['zh', 'en']) {
      await phone.getByTestId(`lang-${lang}`).click();
      for (const width of [360, 430]) {
        await phone.setViewportSize({ width, height: 800 });
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `phone page (${lang}) at ${width} px scrolls sideways by ${overflow} px`);
      }
    }
    await expectText(phone.locator('#account-title'), /^Your account$/, 'phone heading after the switch');
    await expectText(phone.locator('#sessions-status'), /^1 device is signed in\.$/, 'session count after the switch');
    phone.assertClean();
    await phone.context().close();
  });
});
