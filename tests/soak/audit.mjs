// The soak's invariant audit: a pure function of what the clients recorded (history.mjs),
// what the store holds afterwards, the brokers' /metrics and /proc samples. It starts and
// talks to nothing, so tests/soak/audit.test.mjs can feed it a history with a planted
// violation and see it reported (docs/reliability.md lists the invariants).

// "No request unanswered": an answer, an `internal` or a close — never silence past this.
// A fault holds a request at most a few seconds (a node SIGSTOPped for 4 s, Redis for
// 4.5 s against the broker's 3 s watchdog); the rest is room for a contended machine.
export const ANSWER_BOUND_MS = 20000;

// "Memory and descriptors flat": compared between two quiet points with no client
// connected, before and after a further stretch of load. Descriptors must come back to the
// same count (a few for SQLite's journal/WAL and a Redis reconnect in progress); memory may
// move by what allocator caches and SQLite's page cache do under the same load again.
export const FD_TOLERANCE = 4;
export const RSS_TOLERANCE_BYTES = 4 * 1024 * 1024;
export const RSS_TOLERANCE_RATIO = 0.10;
// Against the baseline taken before any fault (for a process that lived through them all):
// the page cache and allocator arenas fill up while the store grows, so a looser bound.
export const RSS_BASELINE_TOLERANCE_BYTES = 16 * 1024 * 1024;

// Client-side refresh outcome -> the broker's qrlogin_refresh_total{result=…} labels.
const REFRESH_METRIC = {
  pair: ['ok', 'grace'],
  rate_limited: ['rate_limited'],
  refresh_reused: ['reused'],
  session_revoked: ['revoked'],
  invalid_token: ['invalid'],
  token_expired: ['expired'],
  // not a label of this broker's yet: checked once /metrics has it
  internal: ['internal'],
};

// Outcomes after which the client cannot know whether the refresh rotated.
const UNKNOWN_OUTCOME = new Set(['internal', 'closed', 'unanswered']);

function violation(list, invariant, detail) {
  list.push({ invariant, detail });
}

/** sid -> earliest time (ms) the client knew the session was over, or undefined. */
function revokedAtBySession(h) {
  const at = new Map();
  const earliest = (sid, t) => {
    if (!at.has(sid) || t < at.get(sid)) at.set(sid, t);
  };
  for (const r of h.revokes) if (r.outcome === 'ok') earliest(r.sid, r.ackAt);
  for (const p of h.pushes) earliest(p.sid, p.at);
  for (const l of h.logoutAlls) {
    if (l.outcome !== 'ok') continue;
    for (const s of h.logins) {
      // a login acknowledged before logout.all was sent is certainly covered by it
      if (s.user === l.user && s.at < l.sentAt) earliest(s.sid, l.ackAt);
    }
  }
  return at;
}

function auditSessions(h, store, v, counts) {
  const revokeSent = new Set(h.revokes.map((r) => r.sid));
  const logoutAllSent = new Set(h.logoutAlls.map((l) => l.user));
  const unknownRefresh = new Set(h.refreshes.filter((r) => UNKNOWN_OUTCOME.has(r.outcome)).map((r) => r.sid));
  counts.sessions_acknowledged = h.logins.length;
  counts.sessions_present = 0;
  counts.sessions_revoked_explained = 0;
  for (const s of h.logins) {
    const row = store.sessions.get(s.sid);
    if (!row) {
      violation(v, 'acknowledged session exists', `session ${s.sid.slice(0, 6)}… (${s.kind}, user ${s.user}) acknowledged at ${s.at} is not in the store`);
      continue;
    }
    counts.sessions_present += 1;
    if (!row.revoked) continue;
    const explained = (row.reason === 'revoked' && revokeSent.has(s.sid))
      || (row.reason === 'logout_all' && logoutAllSent.has(s.user))
      || (row.reason === 'refresh_reused' && unknownRefresh.has(s.sid));
    if (explained) counts.sessions_revoked_explained += 1;
    else violation(v, 'acknowledged session exists', `session ${s.sid.slice(0, 6)}… is revoked (${row.reason}) with no revoke sent for it`);
  }
  // The other way round: an acknowledged revoke is in the store.
  counts.revokes_acknowledged = 0;
  for (const r of h.revokes) {
    if (r.outcome !== 'ok') continue;
    counts.revokes_acknowledged += 1;
    const row = store.sessions.get(r.sid);
    if (row && !row.revoked) violation(v, 'acknowledged revoke holds', `session ${r.sid.slice(0, 6)}… acknowledged revoked at ${r.ackAt} is live in the store`);
  }
  counts.logout_alls_acknowledged = 0;
  for (const l of h.logoutAlls) {
    if (l.outcome !== 'ok') continue;
    counts.logout_alls_acknowledged += 1;
    for (const s of h.logins) {
      if (s.user !== l.user || s.at >= l.sentAt) continue;
      const row = store.sessions.get(s.sid);
      if (row && !row.revoked) violation(v, 'acknowledged revoke holds', `session ${s.sid.slice(0, 6)}… of user ${s.user} is live after logout.all acknowledged at ${l.ackAt}`);
    }
  }
}

function auditRotations(h, v, counts) {
  const byPresented = new Map();
  for (const r of h.refreshes) {
    if (r.outcome !== 'pair') continue;
    if (!byPresented.has(r.presented)) byPresented.set(r.presented, []);
    byPresented.get(r.presented).push(r);
  }
  counts.rotations = byPresented.size;
  counts.grace_replays = 0;
  for (const [presented, answers] of byPresented) {
    const first = answers[0];
    for (const a of answers.slice(1)) {
      counts.grace_replays += 1;
      if (a.refresh !== first.refresh) {
        violation(v, 'no token rotated twice', `refresh token ${presented.slice(0, 6)}… of session ${a.sid.slice(0, 6)}… answered with two different pairs (at ${first.answeredAt} and ${a.answeredAt})`);
      } else if (a.access !== first.access) {
        violation(v, 'grace replay byte-identical', `refresh token ${presented.slice(0, 6)}… of session ${a.sid.slice(0, 6)}…: the replay at ${a.answeredAt} carries another access token than the rotation at ${first.answeredAt}`);
      }
    }
  }
}

function auditRevokedNotRefreshed(h, v, counts) {
  const revokedAt = revokedAtBySession(h);
  counts.refreshes_after_revoke_refused = 0;
  for (const r of h.refreshes) {
    const t = revokedAt.get(r.sid);
    if (t === undefined || r.sentAt <= t) continue;
    if (r.outcome === 'pair') {
      violation(v, 'no revoked session refreshed', `session ${r.sid.slice(0, 6)}… known revoked at ${t} was refreshed by a request sent at ${r.sentAt}`);
    } else {
      counts.refreshes_after_revoke_refused += 1;
    }
  }
}

// Every token the clients present is one the broker issued and nobody revoked before it was
// sent (the revoked ones are answered session_revoked): `invalid_token` for one of them —
// after a key rotation, say, or from a node that did not sign it — is a broker bug.
const PRESENTS_TOKEN = new Set(['token.refresh', 'POST /api/token', 'session.attach']);

function auditTokensAccepted(h, v, counts) {
  counts.tokens_presented = 0;
  for (const q of h.requests) {
    if (!PRESENTS_TOKEN.has(q.type)) continue;
    counts.tokens_presented += 1;
    if (q.code === 'invalid_token' || q.code === 'token_expired') {
      violation(v, 'issued tokens accepted', `${q.type} sent at ${q.sentAt} to ${q.node} with a token the broker issued was answered ${q.code}`);
    }
  }
}

function auditAnswers(h, v, counts) {
  counts.requests = h.requests.length;
  counts.max_answer_ms = 0;
  counts.requests_answered = 0;
  counts.requests_internal = 0;
  counts.requests_closed = 0;
  for (const q of h.requests) {
    if (q.outcome === 'answer') {
      counts.requests_answered += 1;
      counts.max_answer_ms = Math.max(counts.max_answer_ms, Math.round(q.doneAt - q.sentAt));
      if (q.code === 'internal') counts.requests_internal += 1;
    } else if (q.outcome === 'closed') {
      counts.requests_closed += 1;
    } else {
      violation(v, 'no request unanswered', `${q.type} sent at ${q.sentAt} to ${q.node} had no answer and no close within ${ANSWER_BOUND_MS} ms`);
    }
  }
}

function auditResources(samples, v, counts) {
  counts.processes_checked = 0;
  for (const s of samples) {
    counts.processes_checked += 1;
    const { q1, q2, q0 } = s;
    if (q2.fds > q1.fds + FD_TOLERANCE) {
      violation(v, 'descriptors flat', `${s.label} (pid ${s.pid}): ${q1.fds} descriptors after the faults, ${q2.fds} after more load`);
    }
    if (q2.rss > q1.rss * (1 + RSS_TOLERANCE_RATIO) + RSS_TOLERANCE_BYTES) {
      violation(v, 'memory flat', `${s.label} (pid ${s.pid}): RSS ${q1.rss} B after the faults, ${q2.rss} B after more load`);
    }
    if (q0) {
      if (q2.fds > q0.fds + FD_TOLERANCE) {
        violation(v, 'descriptors flat', `${s.label} (pid ${s.pid}): ${q0.fds} descriptors before the faults, ${q2.fds} after`);
      }
      if (q2.rss > q0.rss + RSS_BASELINE_TOLERANCE_BYTES) {
        violation(v, 'memory flat', `${s.label} (pid ${s.pid}): RSS ${q0.rss} B before the faults, ${q2.rss} B after`);
      }
    }
  }
}

/*
 * The broker counts a refresh when it decides it; the client when the answer arrives.
 * Broker totals are summed over every process lifetime: the final scrape of each live node
 * plus the last scrape before each SIGKILL. So for each result:
 *   broker >= client - (answers a killed node sent after its last scrape)
 *   broker <= client + (refreshes whose answer never came: a close, silence)
 * An `internal` is an answer the client saw like any other: it has no result label, so it
 * must not be counted under one (an operator reading result="invalid" looks for forged
 * tokens, not for a store outage).
 */
function auditMetrics(h, metrics, v, counts) {
  const unknown = h.refreshes.filter((r) => r.outcome === 'closed' || r.outcome === 'unanswered').length;
  counts.metrics_results_checked = 0;
  for (const [outcome, labels] of Object.entries(REFRESH_METRIC)) {
    if (!labels.every((l) => l in metrics.refresh)) continue;
    const client = h.refreshes.filter((r) => r.outcome === outcome).length;
    const late = h.refreshes.filter((r) => r.outcome === outcome && r.afterScrape).length;
    const broker = labels.reduce((n, l) => n + (metrics.refresh[l] || 0), 0);
    counts.metrics_results_checked += 1;
    if (broker < client - late || broker > client + unknown) {
      violation(v, 'error counters match clients', `refresh ${labels.join('+')}: broker counted ${broker}, clients saw ${client} (${late} after a last scrape, ${unknown} without an answer)`);
    }
  }
  // Answers every request may get, counted by the broker whatever the request was.
  const unanswered = h.requests.filter((q) => q.outcome !== 'answer').length;
  const requestCounters = [
    ['bad_request answers', metrics.bad_requests, (q) => q.code === 'bad_request'],
    ['failed password sign-ins', metrics.auth_failures, (q) => q.type === 'auth.password' && q.code === 'unauthorized'],
  ];
  for (const [what, broker, pred] of requestCounters) {
    const client = h.requests.filter((q) => q.outcome === 'answer' && pred(q)).length;
    const lateReq = h.requests.filter((q) => q.outcome === 'answer' && pred(q) && q.afterScrape).length;
    counts.metrics_results_checked += 1;
    if (broker < client - lateReq || broker > client + unanswered) {
      violation(v, 'error counters match clients', `${what}: broker counted ${broker}, clients saw ${client} (${lateReq} after a last scrape, ${unanswered} requests without an answer)`);
    }
  }
  const logins = h.logins.filter((s) => s.kind === 'web');
  const late = logins.filter((s) => s.afterScrape).length;
  const lost = h.confirmsWithoutLogin + (h.confirmsUnknown || 0);
  if (metrics.logins_web < logins.length - late || metrics.logins_web > logins.length + lost) {
    violation(v, 'error counters match clients', `web logins: broker counted ${metrics.logins_web}, clients saw ${logins.length} (${late} after a last scrape, ${lost} confirms whose PC saw no login)`);
  }
  counts.metrics_results_checked += 1;
}

/**
 * audit({history, store, metrics, resources}) -> {violations: [{invariant, detail}], counts}
 *   history   what clients saw (history.mjs: logins, refreshes, revokes, logoutAlls,
 *             pushes, requests, confirmsWithoutLogin, confirmsUnknown)
 *   store     {sessions: Map sid -> {revoked: bool, reason}}
 *   metrics   {refresh: {ok, grace, …}, logins_web, bad_requests, auth_failures} summed
 *             over every broker process
 *   resources [{label, pid, q0?, q1, q2}] each q = {rss (bytes), fds}
 */
export function audit({ history, store, metrics, resources }) {
  const violations = [];
  const counts = {};
  auditSessions(history, store, violations, counts);
  auditRotations(history, violations, counts);
  auditRevokedNotRefreshed(history, violations, counts);
  auditAnswers(history, violations, counts);
  auditTokensAccepted(history, violations, counts);
  auditResources(resources, violations, counts);
  auditMetrics(history, metrics, violations, counts);
  return { violations, counts };
}

/** The invariants in the order they are reported, each with the count that backs it. */
export const INVARIANTS = [
  ['acknowledged session exists', 'sessions_acknowledged'],
  ['acknowledged revoke holds', 'revokes_acknowledged'],
  ['no token rotated twice', 'rotations'],
  ['grace replay byte-identical', 'grace_replays'],
  ['no revoked session refreshed', 'refreshes_after_revoke_refused'],
  ['no request unanswered', 'requests'],
  ['issued tokens accepted', 'tokens_presented'],
  ['descriptors flat', 'processes_checked'],
  ['memory flat', 'processes_checked'],
  ['error counters match clients', 'metrics_results_checked'],
];
