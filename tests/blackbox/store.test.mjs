// "A store that went away": the SQLite file can no longer grow (a full disk,
// simulated with the broker's own file-size limit, lowered at run time with
// prlimit). Requests that must write get a clear `internal` error, /healthz
// says 503, nothing already stored is lost, and once the disk has room again
// the broker serves as before without a restart.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  test, before, after, assert, startBroker, stopAll, get, apiMe, phoneLogin, connect,
} from './harness.mjs';

let broker;
before(async () => {
  broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
});
after(stopAll);

function haveprlimit() {
  try { execFileSync('prlimit', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

function setFileSizeLimit(pid, bytes) {
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:unlimited`]);
}

test('disk full: writes answer internal, /healthz 503; with room again all is served, nothing lost', {
  skip: haveprlimit() ? false : 'prlimit (util-linux) is not installed',
}, async () => {
  const first = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const token = first.auth.access_token;
  assert.equal((await apiMe(broker, token)).status, 200);

  // New writes append to the write-ahead log: it may not grow any more.
  const wal = path.join(broker.dataDir, 'qrlogin.db-wal');
  assert.ok(fs.existsSync(wal), 'the store runs without a write-ahead log');
  setFileSizeLimit(broker.proc.pid, fs.statSync(wal).size);
  try {
    const phone = await connect(broker);
    const r = await phone.request({ type: 'auth.password', username: 'alice', password: 'alice-pw-1' });
    assert.equal(r.type, 'error', `a sign-in that needs a write succeeded: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'internal');
    const h = await get(broker, '/healthz');
    assert.equal(h.status, 503, `/healthz ${h.status} ${h.body} while the store cannot write`);
    // What was stored before still answers (reads work).
    assert.equal((await apiMe(broker, token)).status, 200);
    phone.close();
  } finally {
    setFileSizeLimit(broker.proc.pid, 'unlimited');
  }

  const again = await phoneLogin(broker, 'alice', 'alice-pw-1');
  assert.ok(again.auth.session_id, 'no sign-in after the disk had room again');
  const h = await get(broker, '/healthz');
  assert.equal(h.status, 200, `/healthz ${h.status} after recovery`);
  assert.equal((await apiMe(broker, token)).status, 200, 'the first session was lost');
  first.ws.close();
  again.ws.close();
});
