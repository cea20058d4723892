// Browser-test helpers for qrlogin: a real Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; never a downloaded browser), the pages served by a
// real broker from the black-box harness, and a QR code read the way a phone
// camera reads it — a screenshot of the element decoded by zbarimg.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { assert, httpRequest, Inconclusive } from '../blackbox/harness.mjs';

export * from '../blackbox/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(here, '../artifacts');
export const CHROMIUM = process.env.QRLOGIN_CHROMIUM || '/usr/bin/chromium';
export const ZBARIMG = process.env.QRLOGIN_ZBARIMG || 'zbarimg';

/** Generous waits: the machine may be busy; nothing here measures speed. A browser's first
 * navigation on a loaded two-core machine (ctest -j2 beside valgrind and ASan brokers) once
 * took more than 20 s to commit: 60 s only turns "never" into a failure. */
export const WAIT = 60000;

export const TICKET_URL_RE = (publicUrl) =>
  new RegExp(`^${publicUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/m/#t=([A-Za-z0-9_-]{22})$`);

/** Why this suite cannot run here, or null. */
export function missingPrerequisite() {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  const onPath = ZBARIMG.includes('/') ? existsSync(ZBARIMG)
    : (process.env.PATH || '').split(path.delimiter).some((d) => d && existsSync(path.join(d, ZBARIMG)));
  if (!onPath) return `${ZBARIMG} is missing (apt-get install -y zbar-tools)`;
  return null;
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page that records what would make a test meaningless without failing it on
 * the spot: uncaught errors and CSP violations (the broker's CSP is strict, so
 * an inline style or script would silently break a page). assertClean() checks.
 */
function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`csp: ${m.text()}`);
    }
  });
  page.problems = problems;
  page.assertClean = () => assert.deepEqual(problems, [], `page ${page.url()} reported problems`);
  return page;
}

/** A desktop context (1280x800) and its page. */
export async function pcPage(browser, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', ...opts });
  return watch(await ctx.newPage());
}

/** A phone-shaped context (390x844, touch) and its page. */
export async function phonePage(browser, opts = {}) {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'en-US',
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
      + 'Chrome/126.0.0.0 Mobile Safari/537.36',
    ...opts,
  });
  return watch(await ctx.newPage());
}

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr), err });
    });
  });
}

/** True while the page shows `handle` (a currentQr()) as its QR and has not faded it out. */
function stillShown(page, handle) {
  return page.evaluate((old) => {
    const el = document.querySelector('[data-testid=qr]');
    return !!el && !el.classList.contains('qr-dead') && el.querySelector('svg') === old;
  }, handle);
}

/**
 * Screenshot the QR element and decode it with `zbarimg --raw -q` — what a phone
 * camera sees, not what the DOM says. Returns the decoded text (one symbol).
 *
 * whileShown (a currentQr() handle): the QR must be that one. A page may replace or fade
 * its QR at any moment once its ticket's TTL runs out, and a slow machine may take that
 * long to get here: then the screenshot is not of `whileShown` and this throws
 * Inconclusive (harness.mjs) instead of decoding some other code or waiting for a live one.
 */
export async function decodeQr(page, file, { whileShown } = {}) {
  const qr = page.getByTestId('qr');
  await qr.locator('svg').waitFor({ state: 'visible', timeout: WAIT });
  if (whileShown) {
    if (!await stillShown(page, whileShown)) throw new Inconclusive('the QR changed before its screenshot');
  } else {
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid=qr]');
      return el && !el.classList.contains('qr-dead');
    }, null, { timeout: WAIT });
  }
  await qr.screenshot({ path: file, animations: 'disabled' });
  // Shown before and after the screenshot: an element is only ever replaced, and a faded
  // QR is never revived, so the screenshot is of it.
  if (whileShown && !await stillShown(page, whileShown)) {
    throw new Inconclusive('the QR changed while its screenshot was taken');
  }
  const r = await run(ZBARIMG, ['--raw', '-q', file]);
  assert.equal(r.code, 0, `zbarimg found no QR code in ${file} (exit ${r.code}): ${r.stderr}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `zbarimg decoded ${lines.length} symbols in ${file}: ${r.stdout}`);
  return lines[0];
}

/** decodeQr (same options), asserting the URL shape; returns {url, ticket}. */
export async function readTicket(page, broker, file, opts) {
  const url = await decodeQr(page, file, opts);
  const m = TICKET_URL_RE(broker.url).exec(url);
  assert.ok(m, `QR decodes to ${JSON.stringify(url)}, expected ${broker.url}/m/#t=<22 base64url chars>`);
  return { url, ticket: m[1] };
}

/** Wait until the QR element holds a different <svg> than `handle`. */
export async function waitForNewQr(page, handle, timeout = WAIT) {
  await page.waitForFunction((old) => {
    const svg = document.querySelector('[data-testid=qr] svg');
    return svg && svg !== old;
  }, handle, { timeout });
}

/** The <svg> element now shown (a handle, to notice when it is replaced). */
export async function currentQr(page) {
  return page.locator('[data-testid=qr] svg').elementHandle({ timeout: WAIT });
}

/** Fill the phone sign-in form and press Enter. */
export async function phoneSignIn(page, name, password) {
  await page.locator('input[name=username]').waitFor({ state: 'visible', timeout: WAIT });
  await page.locator('input[name=username]').fill(name);
  await page.locator('input[name=password]').fill(password);
  await page.locator('input[name=password]').press('Enter');
}

/** A Prometheus sample value from GET /metrics (0 if the series is absent). */
export async function metric(broker, name, labels = {}) {
  const res = await httpRequest(`${broker.url}/metrics`);
  assert.equal(res.status, 200, `/metrics status ${res.status}`);
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of res.body.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] || '').split(',').filter(Boolean).sort().join(',');
    if (have === want.split(',').filter(Boolean).sort().join(',')) return Number(m[3]);
  }
  return 0;
}

/**
 * Wait until some element matched by `locator` shows text matching `re`;
 * on timeout, fail with what it does show.
 */
export async function expectText(locator, re, what = String(re), timeout = WAIT) {
  try {
    await locator.filter({ hasText: re }).first().waitFor({ state: 'visible', timeout });
  } catch (e) {
    const shown = await locator.allTextContents().catch(() => ['(unreadable)']);
    assert.fail(`${what}: expected text matching ${re}, the page shows ${JSON.stringify(shown)} (${e.message.split('\n')[0]})`);
  }
}

/** The PC page's state now (data-state on <main>). */
export function pcState(page) {
  return page.locator('main').getAttribute('data-state', { timeout: WAIT });
}

/** Wait for the PC page's state (data-state on <main>). */
export async function expectPcState(page, state, timeout = WAIT) {
  try {
    await page.locator(`main[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
  } catch (e) {
    const now = await page.locator('main').getAttribute('data-state').catch(() => '(none)');
    const status = await page.getByTestId('status').textContent().catch(() => '');
    assert.fail(`PC page: expected state "${state}", it is "${now}" ("${status}")`);
  }
}

/**
 * The whole path in two browser contexts: the PC opens `/`, the phone opens
 * the URL decoded from the QR, signs in (if its form shows), sees the PC and
 * confirms; resolves once the PC shows /app.html with the user.
 * Returns {pc, phone, ticket, url}.
 */
export async function loginViaQr(browser, broker, name, password, { phone, shots = {} } = {}) {
  const pc = await pcPage(browser);
  await pc.goto(`${broker.url}/`);
  await expectPcState(pc, 'waiting');
  const { url, ticket } = await readTicket(pc, broker, artifact(shots.qr || 'qr-login.png'));
  if (shots.pcWaiting) await pc.screenshot({ path: artifact(shots.pcWaiting) });

  const ph = phone || await phonePage(browser);
  await ph.goto(url);
  if (!phone) await phoneSignIn(ph, name, password);
  await ph.getByTestId('confirm').waitFor({ state: 'visible', timeout: WAIT });
  await expectText(ph.getByTestId('pc-ip'), /^127\.0\.0\.1$/, 'phone: PC IP address');
  await expectPcState(pc, 'scanned');
  await expectText(pc.getByTestId('status'), new RegExp(`Scanned by ${name}`), 'PC status after the scan');
  if (shots.phoneConfirm) await ph.screenshot({ path: artifact(shots.phoneConfirm) });
  if (shots.pcScanned) await pc.screenshot({ path: artifact(shots.pcScanned) });

  await ph.getByTestId('confirm').click();
  await pc.waitForURL(`${broker.url}/app.html`, { timeout: WAIT });
  await expectText(pc.getByTestId('user'), new RegExp(`^${name}$`), 'app page: user');
  await expectText(ph.getByTestId('result'), /Confirmed/, 'phone: result after confirm');
  return { pc, phone: ph, ticket, url };
}
