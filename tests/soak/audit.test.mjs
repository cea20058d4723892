// The soak's audit, tested by planting bugs: a recorded history that a correct broker could
// have produced passes; the same history with one violation planted (a token rotated twice,
// a grace replay that differs, a lost session, a revoke undone, a revoked session
// refreshed, a request left in silence, a leak, counters that disagree) is reported under
// the right invariant. A soak whose audit never fails proves nothing; this proves it can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audit, FD_TOLERANCE, RSS_BASELINE_TOLERANCE_BYTES } from './audit.mjs';

const MiB = 1024 * 1024;

/** A small clean run: user u0 with two web sessions and an app session. */
function cleanRun() {
  const answer = (type, sentAt) => ({ type, node: 'n0', sentAt, doneAt: sentAt + 5, outcome: 'answer', code: '' });
  const pair = (sid, presented, refresh, access, sentAt, extra = {}) => ({
    sid, presented, via: 'ws', node: 'n0', sentAt, answeredAt: sentAt + 5, outcome: 'pair', refresh, access, ...extra,
  });
  const history = {
    logins: [
      { sid: 'S-app', user: 'u0', kind: 'app', at: 100 },
      { sid: 'S-web1', user: 'u0', kind: 'web', at: 200 },
      { sid: 'S-web2', user: 'u0', kind: 'web', at: 300 },
    ],
    refreshes: [
      // rotation of R1, and two concurrent duplicates answered with the same bytes
      pair('S-web1', 'R1', 'R2', 'A2', 1000),
      pair('S-web1', 'R1', 'R2', 'A2', 1001),
      pair('S-web1', 'R1', 'R2', 'A2', 1002, { via: 'http' }),
      // the next rotation after an `internal`, retried with the same token
      { sid: 'S-web1', presented: 'R2', via: 'ws', node: 'n0', sentAt: 2000, answeredAt: 2005, outcome: 'internal' },
      pair('S-web1', 'R2', 'R3', 'A3', 2300),
      pair('S-web2', 'Q1', 'Q2', 'B2', 2500),
      // after S-web2's revoke was acknowledged (at 3010): refused
      { sid: 'S-web2', presented: 'Q2', via: 'ws', node: 'n0', sentAt: 3100, answeredAt: 3105, outcome: 'session_revoked' },
    ],
    revokes: [{ sid: 'S-web2', user: 'u0', sentAt: 3000, ackAt: 3010, outcome: 'ok' }],
    logoutAlls: [],
    pushes: [{ sid: 'S-web2', reason: 'revoked', at: 3008 }],
    requests: [
      answer('auth.password', 90), answer('ticket.new', 150), answer('token.refresh', 1000),
      answer('token.refresh', 1001), answer('POST /api/token', 1002), answer('session.revoke', 3000),
      { type: 'token.refresh', node: 'n0', sentAt: 2000, doneAt: 2005, outcome: 'answer', code: 'internal' },
      { type: 'session.attach', node: 'n1', sentAt: 2600, doneAt: 2700, outcome: 'closed', code: '' },
    ],
    confirmsWithoutLogin: 0,
  };
  const store = {
    sessions: new Map([
      ['S-app', { revoked: false, reason: '' }],
      ['S-web1', { revoked: false, reason: '' }],
      ['S-web2', { revoked: true, reason: 'revoked' }],
    ]),
  };
  // the broker counts the rotation as ok, the duplicates as grace
  const metrics = {
    refresh: { ok: 3, grace: 2, rate_limited: 0, reused: 0, expired: 0, revoked: 1, invalid: 0 },
    logins_web: 2,
    bad_requests: 0,
    auth_failures: 0,
  };
  const q = (rss, fds) => ({ rss, fds });
  const resources = [{ label: 'n0', pid: 1, q0: q(8 * MiB, 20), q1: q(9 * MiB, 21), q2: q(9 * MiB, 21) }];
  return { history, store, metrics, resources };
}

function reported(run) {
  return audit(run).violations.map((v) => v.invariant);
}

test('a clean history passes, with the counts that back each invariant', () => {
  const r = audit(cleanRun());
  assert.deepEqual(r.violations, []);
  assert.equal(r.counts.sessions_acknowledged, 3);
  assert.equal(r.counts.rotations, 3);
  assert.equal(r.counts.grace_replays, 2);
  assert.equal(r.counts.refreshes_after_revoke_refused, 1);
  assert.equal(r.counts.requests_internal, 1);
  assert.equal(r.counts.requests_closed, 1);
});

test('planted: one presented token answered with two different pairs', () => {
  const run = cleanRun();
  run.history.refreshes[1] = { ...run.history.refreshes[1], refresh: 'R2-other', access: 'A2-other' };
  assert.deepEqual(reported(run), ['no token rotated twice']);
});

test('planted: a grace replay that is not byte-identical (same refresh token, another access token)', () => {
  const run = cleanRun();
  run.history.refreshes[2] = { ...run.history.refreshes[2], access: 'A2-resigned' };
  assert.deepEqual(reported(run), ['grace replay byte-identical']);
});

test('planted: an acknowledged login whose session the store lost', () => {
  const run = cleanRun();
  run.store.sessions.delete('S-web1');
  assert.deepEqual(reported(run), ['acknowledged session exists']);
});

test('planted: a session revoked in the store with no revoke sent for it', () => {
  const run = cleanRun();
  run.store.sessions.set('S-web1', { revoked: true, reason: 'revoked' });
  assert.deepEqual(reported(run), ['acknowledged session exists']);
  // ... while reuse detection after a refresh of unknown outcome is explained
  const reuse = cleanRun();
  reuse.store.sessions.set('S-web1', { revoked: true, reason: 'refresh_reused' });
  assert.deepEqual(reported(reuse), []);
});

test('planted: an acknowledged revoke the store does not hold', () => {
  const run = cleanRun();
  run.store.sessions.set('S-web2', { revoked: false, reason: '' });
  assert.deepEqual(reported(run), ['acknowledged revoke holds']);
});

test('planted: an acknowledged logout.all that left an earlier session live', () => {
  const run = cleanRun();
  run.history.logoutAlls.push({ user: 'u0', sentAt: 4000, ackAt: 4010, outcome: 'ok' });
  run.store.sessions.set('S-app', { revoked: true, reason: 'logout_all' });
  assert.deepEqual(reported(run), ['acknowledged revoke holds']); // S-web1 still live
});

test('planted: a session refreshed after its revoke was acknowledged', () => {
  const run = cleanRun();
  run.history.refreshes[6] = { ...run.history.refreshes[6], outcome: 'pair', refresh: 'Q3', access: 'B3' };
  run.metrics.refresh = { ...run.metrics.refresh, ok: 4, revoked: 0 };
  assert.deepEqual(reported(run), ['no revoked session refreshed']);
});

test('planted: a refresh sent after a session.revoked push, answered with a pair', () => {
  const run = cleanRun();
  run.history.pushes.push({ sid: 'S-web1', reason: 'revoked', at: 2200 });
  run.history.revokes.push({ sid: 'S-web1', user: 'u0', sentAt: 2190, ackAt: 0, outcome: 'closed' });
  run.store.sessions.set('S-web1', { revoked: true, reason: 'revoked' });
  assert.deepEqual(reported(run), ['no revoked session refreshed']); // the one sent at 2300
});

test('planted: a request left without an answer or a close', () => {
  const run = cleanRun();
  run.history.requests.push({ type: 'ticket.scan', node: 'n1', sentAt: 5000, doneAt: 25000, outcome: 'unanswered', code: '' });
  assert.deepEqual(reported(run), ['no request unanswered']);
});

test('planted: a token the broker issued refused as invalid (after a key rotation, say)', () => {
  const run = cleanRun();
  run.history.requests.push({ type: 'session.attach', node: 'n1', sentAt: 2400, doneAt: 2405, outcome: 'answer', code: 'invalid_token' });
  assert.deepEqual(reported(run), ['issued tokens accepted']);
});

test('planted: descriptors and memory that grow with load after the faults', () => {
  const fds = cleanRun();
  fds.resources[0].q2.fds = fds.resources[0].q1.fds + FD_TOLERANCE + 1;
  assert.deepEqual(reported(fds), ['descriptors flat', 'descriptors flat']); // against q1 and q0
  const rss = cleanRun();
  rss.resources[0].q2.rss = rss.resources[0].q0.rss + RSS_BASELINE_TOLERANCE_BYTES + MiB;
  assert.deepEqual(reported(rss), ['memory flat', 'memory flat']); // against q1 and against q0
});

test('planted: broker counters that disagree with what clients saw', () => {
  const more = cleanRun();
  more.metrics.refresh.revoked = 3; // two revoked refreshes nobody asked for
  assert.deepEqual(reported(more), ['error counters match clients']);
  const fewer = cleanRun();
  fewer.metrics.logins_web = 1;
  assert.deepEqual(reported(fewer), ['error counters match clients']);
  const internal = cleanRun();
  internal.metrics.refresh.invalid = 1; // the refresh answered `internal`, counted as invalid
  assert.deepEqual(reported(internal), ['error counters match clients']);
  // a broker with a result label for `internal` has it checked like the others
  const labelled = cleanRun();
  labelled.metrics.refresh.internal = 1;
  assert.deepEqual(reported(labelled), []);
  labelled.metrics.refresh.internal = 0;
  assert.deepEqual(reported(labelled), ['error counters match clients']);
  const bad = cleanRun();
  bad.metrics.bad_requests = 3; // the broker rejected frames no client saw rejected
  assert.deepEqual(reported(bad), ['error counters match clients']);
  // an answer the broker gave after its last scrape before a SIGKILL is allowed for
  const late = cleanRun();
  late.history.refreshes[6].afterScrape = true;
  late.metrics.refresh.revoked = 0;
  assert.deepEqual(reported(late), []);
});
