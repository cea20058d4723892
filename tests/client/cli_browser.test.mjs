// `qrlogin login` approved by a person on the phone page: the code is read from the
// terminal (tmux pane → zbarimg), opened in Chromium's phone-shaped page, signed in and
// confirmed there; the command finishes and `qrlogin token` prints a token /api/me accepts.
import { rmSync } from 'node:fs';
import path from 'node:path';
import {
  test, before, after, assert, startBroker, stopAll, httpRequest,
  launch, phonePage, phoneSignIn, expectText, missingPrerequisite, WAIT,
} from '../browser/browser.mjs';
import { qrlogin, configHome, Pane, qrFromPane, decodeModules, CLI } from './terminal.mjs';

const skip = missingPrerequisite() || false;
let broker;
let browser;
let home;
let pane;

before(async () => {
  if (skip) return;
  broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
  browser = await launch();
  home = configHome();
});
after(async () => {
  if (pane) await pane.kill();
  if (browser) await browser.close();
  await stopAll();
  if (home) rmSync(home, { recursive: true, force: true });
});

test('the phone page approves a terminal login', { skip }, async () => {
  pane = new Pane(`env XDG_CONFIG_HOME='${home}' '${CLI}' login --name build-server '${broker.url}'`);
  await pane.start();
  const shown = await pane.waitFor(/Waiting for the phone/);
  const url = await decodeModules(qrFromPane(shown).rows, path.join(home, 'qr.pgm'));
  assert.match(url, new RegExp(`^${broker.url}/m/#t=[A-Za-z0-9_-]{22}$`));

  const phone = await phonePage(browser);
  await phone.goto(url);
  await phoneSignIn(phone, 'alice', 'alice-pw-1');
  await phone.getByTestId('confirm').waitFor({ state: 'visible', timeout: WAIT });
  await expectText(phone.getByTestId('pc-ip'), /^127\.0\.0\.1$/, 'phone: the terminal\'s IP');
  await pane.waitFor(/Scanned by alice/);
  await phone.getByTestId('confirm').click();
  await expectText(phone.getByTestId('result'), /Confirmed/, 'phone: result after confirm');
  const done = await pane.waitFor(/qrlogin exited \d+/);
  assert.match(done, /Signed in as alice\./);
  assert.match(done, /qrlogin exited 0/);
  phone.assertClean();

  const tok = await qrlogin(['token'], { env: { XDG_CONFIG_HOME: home } });
  assert.equal(tok.code, 0, tok.stderr);
  const me = await httpRequest(`${broker.url}/api/me`,
    { headers: { Authorization: `Bearer ${tok.stdout.trim()}` } });
  assert.equal(me.status, 200);
  assert.equal(JSON.parse(me.body).name, 'alice');
});
