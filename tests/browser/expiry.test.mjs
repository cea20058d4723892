// Expiry and rotation on screen: with --ticket-ttl 4 --max-rotations 1 the PC's
// QR is replaced once by a fresh code (read twice by "camera": two different
// tickets), then the page says the code expired and offers a new one, which works.
//
// The TTL is the subject, and reading a QR (a screenshot and zbarimg) takes a while on a
// busy machine: every read checks that the page still showed that very QR, and the scan
// of the new code is judged only if it reached the broker within the TTL of the click
// that asked for it. An attempt that missed its window starts over (retryWindow).

import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, readTicket, expectText, expectPcState, pcState, artifact, currentQr, waitForNewQr,
  phoneLogin, WAIT, Inconclusive, needWithin, retryWindow,
} from './browser.mjs';

const TTL_MS = 4000;

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

describe('ticket rotation and expiry on the PC page', { skip: skip || false }, () => {
  let broker;
  let browser;

  before(async () => {
    broker = await startBroker({
      users: [['bob', 'pw-bob']],
      args: ['--ticket-ttl', String(TTL_MS / 1000), '--max-rotations', '1'],
    });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    await stopAll();
  });

  test('the QR rotates, then expires with a working "new code" button', (t) => retryWindow(t, async (n) => {
    const pc = await pcPage(browser);
    const { ws } = await phoneLogin(broker, 'bob', 'pw-bob');
    try {
      await rotateExpireRenew(pc, ws, n);
    } finally {
      await ws.close();
    }
    pc.assertClean();
    await pc.context().close();
  }));

  async function rotateExpireRenew(pc, ws, attempt) {
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
    const first = await readTicket(pc, broker, artifact('qr-rotate-1.png'), { whileShown: qr1 });

    // The broker rotates the unscanned ticket: a new QR, silently.
    try {
      await waitForNewQr(pc, qr1);
    } catch (e) {
      // qr1 was already the rotated code (the page took a TTL to get here): nothing follows.
      if (await pcState(pc) === 'expired') throw new Inconclusive('the first QR read was the rotated one');
      throw e;
    }
    const qr2 = await currentQr(pc);
    const second = await readTicket(pc, broker, artifact('qr-rotate-2.png'), { whileShown: qr2 });
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

    // "Get a new code" works: a fresh ticket, which a phone can scan. It was made after the
    // click, so a scan answered within the TTL of the click found it alive for certain.
    const clicked = Date.now();
    await pc.getByTestId('new-code').click();
    await waitForNewQr(pc, qr2);
    await expectPcState(pc, 'waiting');
    const shown = await currentQr(pc);
    const now = await readTicket(pc, broker, artifact(`qr-new-code-${attempt}.png`), { whileShown: shown });
    assert.ok(![first.ticket, second.ticket].includes(now.ticket), 'the new code carries an old ticket');
    const reply = await ws.request({ type: 'ticket.scan', ticket: now.ticket });
    if (reply.type !== 'ticket.info') needWithin(clicked, TTL_MS, 'the scan of the new code');
    assert.equal(reply.type, 'ticket.info', `ticket.scan of the new code: ${JSON.stringify(reply)}`);
    await expectPcState(pc, 'scanned');
    await expectText(pc.getByTestId('status'), /Scanned by bob/, 'PC status after the scan');
  }
});
