// Expiry and rotation on screen: with --ticket-ttl 2 --max-rotations 1 the PC's
// QR is replaced once by a fresh code (read twice by "camera": two different
// tickets), then the page says the code expired and offers a new one, which works.

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, readTicket, expectText, expectPcState, artifact, currentQr, waitForNewQr,
  phoneLogin, WAIT,
} from './browser.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('ticket rotation and expiry on the PC page', { skip: skip || false }, () => {
  let broker;
  let browser;

  before(async () => {
    broker = await startBroker({ users: [['bob', 'pw-bob']], args: ['--ticket-ttl', '2', '--max-rotations', '1'] });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('the QR rotates, then expires with a working "new code" button', async () => {
    const pc = await pcPage(browser);
    // Record every state the page passes through (the expired one must follow a rotation).
    await pc.addInitScript(() => {
      window.__states = [];
      document.addEventListener('DOMContentLoaded', () => {
        const main = document.querySelector('main');
        new MutationObserver(() => window.__states.push(main.dataset.state))
          .observe(main, { attributes: true, attributeFilter: ['data-state'] });
      });
    });
    await pc.goto(`${broker.url}/`);
    await expectPcState(pc, 'waiting');
    const qr1 = await currentQr(pc);
    const first = await readTicket(pc, broker, artifact('qr-rotate-1.png'));

    // The broker rotates the unscanned ticket: a new QR, silently.
    await waitForNewQr(pc, qr1);
    const qr2 = await currentQr(pc);
    const second = await readTicket(pc, broker, artifact('qr-rotate-2.png'));
    assert.notEqual(second.ticket, first.ticket, 'the rotated QR still carries the first ticket');

    // After max_rotations the code expires: faded, said so, and a button.
    await expectPcState(pc, 'expired');
    await expectText(pc.getByTestId('status'), /Code expired/, 'PC status after expiry');
    await pc.getByTestId('new-code').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await pc.getByTestId('qr').evaluate((el) => el.classList.contains('qr-dead')), true,
      'the expired QR is not faded out');
    assert.equal(await pc.evaluate(() => document.activeElement?.dataset.testid), 'new-code',
      'focus did not move to the "new code" button');
    await pc.screenshot({ path: artifact('pc-expired.png') });
    const states = await pc.evaluate(() => window.__states);
    assert.ok(states.lastIndexOf('waiting') < states.lastIndexOf('expired'), `states: ${states}`);

    // "Get a new code" works: a third ticket, and a phone can scan it.
    await pc.getByTestId('new-code').click();
    await waitForNewQr(pc, qr2);
    await expectPcState(pc, 'waiting');
    const { ws } = await phoneLogin(broker, 'bob', 'pw-bob');
    let scanned = null;
    const seen = [first.ticket, second.ticket];
    // The fresh ticket lives 2 s unscanned; should the scan come late, the
    // page shows the rotated one, which is scanned instead.
    for (let round = 0; round < 3 && !scanned; round++) {
      await expectPcState(pc, 'waiting');
      const now = await readTicket(pc, broker, artifact(`qr-new-code-${round}.png`));
      assert.ok(!seen.includes(now.ticket) || round > 0, 'the new code carries an old ticket');
      const reply = await ws.request({ type: 'ticket.scan', ticket: now.ticket });
      if (reply.type === 'ticket.info') scanned = now.ticket;
      else assert.equal(reply.code, 'not_found', `ticket.scan: ${JSON.stringify(reply)}`);
    }
    assert.ok(scanned, 'no code shown after "Get a new code" could be scanned');
    await expectPcState(pc, 'scanned');
    await expectText(pc.getByTestId('status'), /Scanned by bob/, 'PC status after the scan');
    await ws.close();
    pc.assertClean();
  });
});
