// The layer check must be able to fail: each case plants one kind of
// violation in a throw-away copy of broker/ (or in a tiny tree of its own) and
// asserts that check_layers.mjs exits non-zero and names it. CTest:
// lint_layers_selftest (label lint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const checker = join(here, 'check_layers.mjs');
const broker = join(here, '..', '..', 'broker');

function check(dir) {
  const r = spawnSync(process.execPath, [checker, dir], { encoding: 'utf8' });
  return { status: r.status, lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

// A fresh copy of the broker's sources; removed after the test.
function brokerCopy(t) {
  const dir = mkdtempSync(join(tmpdir(), 'qrlogin-layers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of readdirSync(broker).filter((n) => /\.[ch]$/.test(n)))
    cpSync(join(broker, f), join(dir, f));
  return dir;
}

test('a base module that includes the server header is refused, naming both layers', (t) => {
  const dir = brokerCopy(t);
  appendFileSync(join(dir, 'clock.c'), '\n#include "server.h"\n');
  const r = check(dir);
  assert.equal(r.status, 1);
  assert.ok(r.lines.some((l) => l.endsWith('clock.c: includes "server.h": ' +
    'clock (layer 0 base) may not include server (layer 7 server)')), r.lines.join('\n'));
});

test('a cycle between two modules of one layer is refused, and printed', (t) => {
  const dir = brokerCopy(t);
  // Same layer (base), so only the cycle can be what the check objects to.
  appendFileSync(join(dir, 'b64url.c'), '\n#include "hmap.h"\n');
  appendFileSync(join(dir, 'hmap.c'), '\n#include "b64url.h"\n');
  const r = check(dir);
  assert.equal(r.status, 1);
  assert.ok(r.lines.includes(
    'cycle: b64url -> hmap -> b64url (b64url.c "hmap.h", hmap.c "b64url.h")'), r.lines.join('\n'));
  assert.ok(!r.lines.some((l) => /b64url\.c: includes|hmap\.c: includes/.test(l)),
    'same-layer includes are allowed');
});

test('a broker module missing from layers.txt is refused, saying where to add it', (t) => {
  const dir = brokerCopy(t);
  writeFileSync(join(dir, 'oidc_provider.c'), '#include "log.h"\n');
  const r = check(dir);
  assert.equal(r.status, 1);
  assert.ok(r.lines.some((l) => /oidc_provider\.c: module oidc_provider is not in .*layers\.txt; add it/.test(l)),
    r.lines.join('\n'));
});

test('a tree that keeps the rule passes silently', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qrlogin-layers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'clock.h'), '#include <stdint.h>\n');
  writeFileSync(join(dir, 'clock.c'), '#include "clock.h"\n');
  writeFileSync(join(dir, 'log.h'), '');
  writeFileSync(join(dir, 'tickets.h'), '#include "clock.h"\n');
  writeFileSync(join(dir, 'tickets.c'), '#include "tickets.h"\n#include "log.h"\n#include "clock.h"\n');
  writeFileSync(join(dir, 'handle_ticket.c'), '#include "tickets.h"\n#include "log.h"\n');
  const r = check(dir);
  assert.equal(r.status, 0, r.lines.join('\n') + r.stderr);
  assert.deepEqual(r.lines, []);
});
