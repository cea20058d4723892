// `serve --workers N` (several processes sharing the port) is for the Redis store only: with
// SQLite each process would open the same file and keep its own tickets. A bad combination
// or value exits 2 with one stderr line naming --workers, before anything is served.
import {
  test, after, assert, runCli, makeDataDir, freePort, PBKDF2, startBroker, stopAll, get,
} from './harness.mjs';
import { rmSync } from 'node:fs';

after(stopAll);

const dirs = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function serveArgs(extra) {
  const dir = makeDataDir();
  dirs.push(dir);
  const port = await freePort();
  return ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
    '--data-dir', dir, ...PBKDF2, ...extra];
}

function assertRefused(r, what) {
  assert.ok(!r.timedOut, `${what}: the broker started serving instead of refusing`);
  assert.equal(r.code, 2, `${what}: exit ${r.code} (signal ${r.signal})\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${what}: expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], /--workers/, `${what}: the line does not name --workers: ${lines[0]}`);
  return lines[0];
}

test('--workers 2 with the SQLite store → exit 2 naming --workers and the Redis store', async () => {
  const line = assertRefused(await runCli(await serveArgs(['--workers', '2']), { timeoutMs: 5000 }),
    '--workers 2 (default store)');
  assert.match(line, /redis/i, `the line does not say which store works: ${line}`);
  assertRefused(await runCli(await serveArgs(['--workers', '2', '--store', 'sqlite:/tmp/qrlogin-w.db']),
    { timeoutMs: 5000 }), '--workers 2 --store sqlite:…');
  assertRefused(await runCli(await serveArgs([]), { env: { QRLOGIN_WORKERS: '3' }, timeoutMs: 5000 }),
    'QRLOGIN_WORKERS=3');
});

test('--workers out of 1..64 → exit 2 naming --workers', async () => {
  for (const v of ['0', '65', 'two', '-1']) {
    assertRefused(await runCli(await serveArgs(['--workers', v, '--store', 'redis://127.0.0.1:1/0']),
      { timeoutMs: 5000 }), `--workers ${v}`);
  }
});

test('--workers 1 (the default) with SQLite serves as ever; --help lists --workers', async () => {
  const broker = await startBroker({ args: ['--workers', '1'] });
  const r = await get(broker, '/healthz');
  assert.equal(r.status, 200, r.body);
  await broker.dispose();
  const help = await runCli(['serve', '--help'], { timeoutMs: 5000 });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--workers N/);
  assert.match(help.stdout, /QRLOGIN_WORKERS/);
});
