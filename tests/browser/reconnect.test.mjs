// The broker restarts under an open PC page: the page notices, reconnects by
// itself and shows a fresh QR code that decodes and works — no reload.

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, readTicket, expectPcState, artifact, currentQr, waitForNewQr, phoneLogin,
} from './browser.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('reconnect after a broker restart', { skip: skip || false }, () => {
  let broker;
  let browser;

  before(async () => {
    broker = await startBroker({ users: [['carol', 'pw-carol']] });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('the PC page shows a fresh, decodable QR without a reload', async () => {
    const pc = await pcPage(browser);
    await pc.goto(`${broker.url}/`);
    await expectPcState(pc, 'waiting');
    const before = await readTicket(pc, broker, artifact('qr-before-restart.png'));
    const qr = await currentQr(pc);
    await pc.evaluate(() => {
      window.__sameDocument = true;
      window.__states = [];
      const main = document.querySelector('main');
      new MutationObserver(() => window.__states.push(main.dataset.state))
        .observe(main, { attributes: true, attributeFilter: ['data-state'] });
    });

    await broker.restart();

    await waitForNewQr(pc, qr, 45000);
    await expectPcState(pc, 'waiting');
    const after = await readTicket(pc, broker, artifact('qr-after-restart.png'));
    assert.notEqual(after.ticket, before.ticket, 'the page shows the ticket of the dead broker');
    assert.equal(await pc.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    const states = await pc.evaluate(() => window.__states);
    assert.ok(states.includes('lost'), `the page never showed the lost connection: ${states}`);

    // The new ticket is live on the restarted broker.
    const { ws } = await phoneLogin(broker, 'carol', 'pw-carol');
    const info = await ws.request({ type: 'ticket.scan', ticket: after.ticket });
    assert.equal(info.type, 'ticket.info', `ticket.scan after restart: ${JSON.stringify(info)}`);
    await expectPcState(pc, 'scanned');
    await ws.close();
    pc.assertClean();
  });
});
