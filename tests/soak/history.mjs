// What the soak's clients saw, in the shape audit.mjs reads. Tokens are kept only as short
// digests: enough to tell two pairs apart byte for byte, nothing that could be replayed
// from a report file.
import { createHash } from 'node:crypto';

// Event times: milliseconds, but strictly increasing within the driver, so that "sent after
// the revoke was acknowledged" is never a tie of two events in the same millisecond.
let lastTick = 0;
export function tick() {
  lastTick = Math.max(lastTick + 0.001, Date.now());
  return lastTick;
}

export const digest = (s) => createHash('sha256').update(String(s)).digest('hex').slice(0, 24);

export function newHistory() {
  return {
    logins: [],     // {sid, user, kind: 'web'|'app', at, node, afterScrape}
    refreshes: [],  // {sid, presented, via, node, sentAt, answeredAt, outcome, refresh?, access?, afterScrape}
    revokes: [],    // {sid, user, sentAt, ackAt, outcome}
    logoutAlls: [], // {user, sentAt, ackAt, outcome}
    pushes: [],     // {sid, reason, at}  session.revoked received
    requests: [],   // {type, node, sentAt, doneAt, outcome: 'answer'|'closed'|'unanswered', code}
    confirmsWithoutLogin: 0, // confirms answered `ok` whose PC then saw no `login` (closed)
    confirmsUnknown: 0,      // confirms answered `internal`, cut or silent, and no `login` seen
  };
}

/** The answer to a refresh as the audit keeps it: 'pair' or the error code or 'closed'/'unanswered'. */
export function refreshOutcome(r) {
  if (r.outcome !== 'answer') return { outcome: r.outcome };
  const f = r.frame;
  if (f.type === 'token' || (f.access_token && f.refresh_token)) {
    return { outcome: 'pair', refresh: digest(f.refresh_token), access: digest(f.access_token) };
  }
  return { outcome: f.code || f.error || 'unexpected' };
}
