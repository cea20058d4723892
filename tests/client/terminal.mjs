// Helpers for the `qrlogin` command's tests: run it in a real terminal (a tmux pane on a
// private tmux server), read the pane back with capture-pane, and decode the QR code the
// command drew there (half-block characters → a PGM image → zbarimg), the way a phone's
// camera would read the screen.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, sleep } from '../blackbox/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = process.env.QRLOGIN_CLI || path.resolve(here, '../../build/client/qrlogin');
export const TMUX = process.env.QRLOGIN_TMUX || 'tmux';
export const ZBARIMG = process.env.QRLOGIN_ZBARIMG || 'zbarimg';
const WAIT_MS = 20000;

function exec(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 30000, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) p.stdin.end(opts.input);
  });
}

/** Runs `qrlogin ARGS` to its end: {code, stdout, stderr}. */
export function qrlogin(args, { env = {}, input } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(CLI, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.on('error', () => { /* a command that reads no stdin may be gone already */ });
    p.stdin.end(input ?? '');
  });
}

export function configHome() {
  return mkdtempSync(path.join(tmpdir(), 'qrlogin-cli-'));
}

let sessions = 0;

/** A tmux pane (on a tmux server of its own) running `command` through sh. */
export class Pane {
  constructor(command, { cols = 100, rows = 60 } = {}) {
    sessions += 1;
    this.socket = `qrl-test-${process.pid}-${sessions}`;
    this.command = command;
    this.cols = cols;
    this.rows = rows;
  }

  async start() {
    // The pane keeps showing what the command printed after it exits: the shell says how
    // it ended and then waits, until kill().
    const sh = `${this.command}; echo "qrlogin exited $?"; exec sleep 600`;
    const r = await exec(TMUX, ['-L', this.socket, '-f', '/dev/null', 'new-session', '-d',
      '-x', String(this.cols), '-y', String(this.rows), '-s', 'qrl', sh]);
    assert.equal(r.code, 0, `tmux new-session failed: ${r.stderr}`);
  }

  async text() {
    const r = await exec(TMUX, ['-L', this.socket, 'capture-pane', '-p', '-t', 'qrl']);
    assert.equal(r.code, 0, `tmux capture-pane failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Waits until the pane shows text matching re; returns the whole pane. */
  async waitFor(re) {
    const until = Date.now() + WAIT_MS;
    let last = '';
    while (Date.now() < until) {
      last = await this.text();
      if (re.test(last)) return last;
      await sleep(100);
    }
    assert.fail(`the pane never showed ${re}; it shows:\n${last}`);
  }

  async kill() {
    await exec(TMUX, ['-L', this.socket, 'kill-server']);
  }
}

const LIT_TOP = new Set(['█', '▀']);
const LIT_BOTTOM = new Set(['█', '▄']);

/**
 * The QR code in a captured pane, as rows of booleans (true = light module), read back
 * from the half-block characters: a block draws light modules, or dark ones with --invert.
 * Also returns its width in columns.
 */
export function qrFromPane(text, { invert = false } = {}) {
  const lines = text.split('\n');
  const isQr = (l) => l.length > 0 && /^[█▀▄ ]+$/.test(l) && /[█▀▄]/.test(l);
  let best = [];
  let run = [];
  for (const l of lines) {
    if (isQr(l)) run.push(l);
    else { if (run.length > best.length) best = run; run = []; }
  }
  if (run.length > best.length) best = run;
  assert.ok(best.length > 5, `no QR code in the pane:\n${text}`);
  const cols = Math.max(...best.map((l) => [...l].length));
  const rows = [];
  for (const l of best) {
    const chars = [...l.padEnd(cols, ' ')];
    rows.push(chars.map((c) => LIT_TOP.has(c) !== invert));
    rows.push(chars.map((c) => LIT_BOTTOM.has(c) !== invert));
  }
  return { rows, cols };
}

/** Decodes a module picture with zbarimg (a PGM, scaled up, light border): the text. */
export async function decodeModules(rows, file) {
  const scale = 6;
  const border = 4 * scale;
  const w = rows[0].length * scale + 2 * border;
  const h = rows.length * scale + 2 * border;
  const px = Buffer.alloc(w * h, 255);
  rows.forEach((row, y) => row.forEach((lightModule, x) => {
    if (lightModule) return;
    for (let dy = 0; dy < scale; dy += 1) {
      px.fill(0, (border + y * scale + dy) * w + border + x * scale,
        (border + y * scale + dy) * w + border + (x + 1) * scale);
    }
  }));
  writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`), px]));
  const r = await exec(ZBARIMG, ['--raw', '-q', file]);
  assert.equal(r.code, 0, `zbarimg found no QR code in ${file} (exit ${r.code}): ${r.stderr}`);
  const found = r.stdout.split('\n').filter(Boolean);
  assert.equal(found.length, 1, `zbarimg decoded ${found.length} symbols: ${r.stdout}`);
  return found[0];
}
