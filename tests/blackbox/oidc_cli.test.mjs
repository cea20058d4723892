// clientadd / clientdel / clientlist (docs/protocol.md §9, docs/oidc.md) against a throw-away
// SQLite store: what is accepted, what is refused with exit 2 and one line, and that a
// secret is shown once and stored only hashed.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test, describe, after, assert, runCli, makeDataDir, PBKDF2 } from './harness.mjs';

const dir = makeDataDir();
const cli = (args, input) => runCli([...args, '--data-dir', dir, ...PBKDF2], { input });

describe('clientadd, clientdel, clientlist', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a confidential client gets a generated secret, shown once, stored hashed', async () => {
    const r = await cli(['clientadd', 'app', '--redirect-uri', 'https://rp.example/cb']);
    assert.equal(r.code, 0, r.stderr);
    const secret = /client_secret: (\S+)/.exec(r.stdout)[1];
    assert.ok(secret.length >= 43, 'a 256-bit secret');
    const db = readFileSync(path.join(dir, 'qrlogin.db'));
    assert.equal(db.includes(Buffer.from(secret)), false, 'the secret itself is not in the store');
    const list = await cli(['clientlist']);
    assert.match(list.stdout, /^app\tconfidential\tauthorization_code,refresh_token\thttps:\/\/rp\.example\/cb$/m);
    assert.doesNotMatch(list.stdout, new RegExp(secret));
  });

  test('a secret from stdin; a public client; grants', async () => {
    let r = await cli(['clientadd', 'svc', '--secret-from-stdin', '--grant',
      'urn:ietf:params:oauth:grant-type:device_code'], 'a-long-enough-secret-123\n');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /client_secret/);
    r = await cli(['clientadd', 'spa', '--public', '--redirect-uri', 'http://127.0.0.1:9/cb']);
    assert.equal(r.code, 0, r.stderr);
    const list = (await cli(['clientlist'])).stdout;
    assert.match(list, /^svc\tconfidential\turn:ietf:params:oauth:grant-type:device_code\t$/m);
    assert.match(list, /^spa\tpublic\t/m);
  });

  test('bad usage exits 2 with one line', async () => {
    for (const [what, args, input] of [
      ['a name with a space', ['clientadd', 'a b', '--public', '--redirect-uri', 'https://x.example/cb']],
      ['a 65-character name', ['clientadd', 'x'.repeat(65), '--public', '--redirect-uri', 'https://x.example/cb']],
      ['http off loopback', ['clientadd', 'c1', '--redirect-uri', 'http://x.example/cb']],
      ['a fragment', ['clientadd', 'c2', '--redirect-uri', 'https://x.example/cb#f']],
      ['an unknown grant', ['clientadd', 'c3', '--grant', 'password']],
      ['the code grant without a redirect URI', ['clientadd', 'c4', '--public']],
      ['--public with a secret', ['clientadd', 'c5', '--public', '--secret-from-stdin',
        '--redirect-uri', 'https://x.example/cb'], 'a-long-enough-secret-123\n'],
      ['a short secret', ['clientadd', 'c6', '--secret-from-stdin', '--redirect-uri',
        'https://x.example/cb'], 'short\n'],
      ['the broker\'s own client id', ['clientadd', 'qrlogin-web', '--public', '--redirect-uri',
        'https://x.example/cb']],
      ['no name', ['clientdel']],
      ['a name for clientlist', ['clientlist', 'x']],
    ]) {
      const r = await cli(args, input);
      assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
    }
    assert.doesNotMatch((await cli(['clientlist'])).stdout, /^c\d\t/m, 'nothing was stored');
  });

  test('a taken name exits 1; clientdel removes; a missing one exits 1', async () => {
    let r = await cli(['clientadd', 'app', '--public', '--redirect-uri', 'https://x.example/cb']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists/);
    r = await cli(['clientdel', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch((await cli(['clientlist'])).stdout, /^app\t/m);
    r = await cli(['clientdel', 'app']);
    assert.equal(r.code, 1);
  });
});
