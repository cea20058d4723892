// Screenshots for the README (not a test): docs/img/pc.png (the PC page waiting
// for a scan, 1280x800) and docs/img/phone.png (the phone page showing a PC to
// confirm, 390x844). Run after a build:
//   QRLOGIN_BROKER=build/qrlogin-broker node tests/browser/screenshots.mjs

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startBroker, stopAll, launch, pcPage, phonePage, readTicket, phoneSignIn,
  expectPcState, artifact, WAIT,
} from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../docs/img');
mkdirSync(out, { recursive: true });

const broker = await startBroker({ users: [['alice', 'correct horse battery staple']] });
const browser = await launch();
try {
  const pc = await pcPage(browser, {
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
      + 'Chrome/126.0.0.0 Safari/537.36',
  });
  await pc.goto(`${broker.url}/`);
  await expectPcState(pc, 'waiting');
  const { url } = await readTicket(pc, broker, artifact('qr-readme.png'));
  await pc.screenshot({ path: path.join(out, 'pc.png') });

  const phone = await phonePage(browser, { deviceScaleFactor: 1 });
  await phone.goto(url);
  await phoneSignIn(phone, 'alice', 'correct horse battery staple');
  await phone.getByTestId('confirm').waitFor({ state: 'visible', timeout: WAIT });
  await phone.screenshot({ path: path.join(out, 'phone.png') });
  console.log(`wrote ${path.join(out, 'pc.png')} and ${path.join(out, 'phone.png')}`);
} finally {
  await browser.close();
  await stopAll();
}
