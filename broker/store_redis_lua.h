/* store_redis_lua.h — the Lua scripts of the Redis store (store_redis.c).
 *
 * Each script is one atomic step on the server: no other client's command
 * runs between its reads and its writes, which is what makes a check-then-
 * write (name taken? rev still the same?) safe with several brokers on one
 * Redis. The data model they work on is described at the top of
 * store_redis.c.
 *
 * Rules the scripts keep:
 * - Numbers that go back into Redis are formatted by the C side or by Redis
 *   itself (INCR, HINCRBY), never by Lua's tostring (which turns large
 *   integers into "1e+15").
 * - A session's member in its user's sorted set is a 16-hex-digit insertion
 *   number followed by the sid, so sessions created in the same millisecond
 *   list newest-inserted first (SQLite's rowid tie-break) and the sid is
 *   string.sub(member, 17).
 * - Keys that depend on a stored value (a session's previous owner, the
 *   sessions a set points to) are built inside the script, so this needs a
 *   single Redis (or a primary with replicas), not Redis Cluster. */
#ifndef QRLOGIN_STORE_REDIS_LUA_H
#define QRLOGIN_STORE_REDIS_LUA_H

/* KEYS[1] qrl:user:name:<name>  KEYS[2] qrl:user:next
 * ARGV[1] name  ARGV[2] pwhash  ARGV[3] created_at (ms)
 * → the new id, or nil when the name is taken. The loop skips ids that are
 * already in use, in case the counter was lost while the users were not. */
static const char RS_LUA_USER_CREATE[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return false end\n"
    "local id\n"
    "repeat id = redis.call('INCR', KEYS[2])\n"
    "until redis.call('EXISTS', 'qrl:user:' .. id) == 0\n"
    "redis.call('HSET', 'qrl:user:' .. id, 'id', id, 'name', ARGV[1], 'pwhash', ARGV[2],\n"
    "           'token_version', 1, 'created_at', ARGV[3])\n"
    "redis.call('SET', KEYS[1], id)\n"
    "return id\n";

/* KEYS[1] qrl:user:name:<name> → the user's hash as HGETALL gives it, or an
 * empty array when there is no such name. */
static const char RS_LUA_USER_BY_NAME[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then return {} end\n"
    "return redis.call('HGETALL', 'qrl:user:' .. id)\n";

/* KEYS[1] qrl:user:<id> → the new token version, or nil for no such user
 * (HINCRBY alone would create a half user). */
static const char RS_LUA_USER_BUMP[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "return redis.call('HINCRBY', KEYS[1], 'token_version', 1)\n";

/* The user behind a federated identity, created on first sight; its name
 * (the display name) is refreshed every time. A federated user gets no
 * qrl:user:name: entry: display names need not be unique, and no password
 * sign-in can find it.
 * KEYS[1] qrl:ident:<b64url sha256(issuer NUL subject)>  KEYS[2] qrl:user:next
 * ARGV[1] display name  ARGV[2] pwhash (one no password matches)
 * ARGV[3] created_at (ms)  ARGV[4] issuer  ARGV[5] subject
 * → the user's hash as HGETALL gives it. */
static const char RS_LUA_USER_FEDERATED[] =
    "local id = redis.call('HGET', KEYS[1], 'user_id')\n"
    "if id and redis.call('EXISTS', 'qrl:user:' .. id) == 1 then\n"
    "  redis.call('HSET', 'qrl:user:' .. id, 'name', ARGV[1])\n"
    "  return redis.call('HGETALL', 'qrl:user:' .. id)\n"
    "end\n"
    "repeat id = redis.call('INCR', KEYS[2])\n"
    "until redis.call('EXISTS', 'qrl:user:' .. id) == 0\n"
    "redis.call('HSET', 'qrl:user:' .. id, 'id', id, 'name', ARGV[1], 'pwhash', ARGV[2],\n"
    "           'token_version', 1, 'created_at', ARGV[3])\n"
    "redis.call('HSET', KEYS[1], 'issuer', ARGV[4], 'subject', ARGV[5], 'user_id', id)\n"
    "return redis.call('HGETALL', 'qrl:user:' .. id)\n";

/* The compare-and-set of store.h.
 * KEYS[1] qrl:sess:<sid>  KEYS[2] qrl:user:<uid>  KEYS[3] qrl:user:<uid>:sess
 * ARGV[1] expected rev ("0": insert)  ARGV[2] new rev  ARGV[3] sid
 * ARGV[4] created_at (the set's score)  ARGV[5] revoked "0"/"1"
 * ARGV[6] EXPIREAT in s ("0": none)  ARGV[7..] field, value, field, value…
 * → 0 stored, 1 not found (the session is gone, or its user does not exist),
 *   2 conflict (the sid exists, or someone wrote it since it was read).
 * The record is replaced whole (DEL + HSET), so no field of an older layout
 * survives, and it moves between the owners' sets when its user changes. A
 * revoked session leaves the set: the set only serves list and revoke_user,
 * which both skip revoked sessions. */
static const char RS_LUA_SESSION_PUT[] =
    "local exists = redis.call('EXISTS', KEYS[1]) == 1\n"
    "local cur = redis.call('HMGET', KEYS[1], 'rev', 'user_id', 'zm')\n"
    "if ARGV[1] == '0' then\n"
    "  if exists then return 2 end\n"
    "else\n"
    "  if not exists then return 1 end\n"
    "  if cur[1] ~= ARGV[1] then return 2 end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end\n"
    "local zm = cur[3]\n"
    "if not zm then\n"
    "  zm = string.format('%016x', redis.call('INCR', 'qrl:seq:sess')) .. ARGV[3]\n"
    "end\n"
    "if cur[2] then redis.call('ZREM', 'qrl:user:' .. cur[2] .. ':sess', zm) end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'zm', zm, unpack(ARGV, 7))\n"
    "if ARGV[6] ~= '0' then redis.call('EXPIREAT', KEYS[1], ARGV[6]) end\n"
    "if ARGV[5] == '0' then redis.call('ZADD', KEYS[3], ARGV[4], zm) end\n"
    "return 0\n";

/* KEYS[1] qrl:user:<uid>:sess  ARGV[1] uid  ARGV[2] at most this many
 * → an array of HGETALL arrays, newest first. Members whose session expired
 * (or is revoked, or someone else's: only a hand edit does that) are
 * dropped from the set on the way, after the walk so ranks do not shift
 * under it. */
static const char RS_LUA_SESSION_LIST[] =
    "local max = tonumber(ARGV[2])\n"
    "local out, drop, start = {}, {}, 0\n"
    "local function get(h, f)\n"
    "  for i = 1, #h, 2 do if h[i] == f then return h[i + 1] end end\n"
    "end\n"
    "while #out < max do\n"
    "  local ms = redis.call('ZREVRANGE', KEYS[1], start, start + max - 1)\n"
    "  if #ms == 0 then break end\n"
    "  for _, m in ipairs(ms) do\n"
    "    local h = redis.call('HGETALL', 'qrl:sess:' .. string.sub(m, 17))\n"
    "    if #h > 0 and get(h, 'revoked') == '0' and get(h, 'user_id') == ARGV[1] then\n"
    "      out[#out + 1] = h\n"
    "      if #out == max then break end\n"
    "    else\n"
    "      drop[#drop + 1] = m\n"
    "    end\n"
    "  end\n"
    "  start = start + max\n"
    "end\n"
    "for _, m in ipairs(drop) do redis.call('ZREM', KEYS[1], m) end\n"
    "return out\n";

/* KEYS[1] qrl:user:<uid>:sess  ARGV[1] uid  ARGV[2] reason → how many were
 * revoked. Each live session is marked revoked, loses its replayable pair
 * (a revoked session must never hand out tokens again) and gets rev + 1, so
 * a node holding a stale copy cannot write it back. Afterwards no session
 * in the set is live, so the set goes. */
static const char RS_LUA_SESSION_REVOKE_USER[] =
    "local n = 0\n"
    "for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local k = 'qrl:sess:' .. string.sub(m, 17)\n"
    "  local st = redis.call('HMGET', k, 'revoked', 'user_id')\n"
    "  if st[1] == '0' and st[2] == ARGV[1] then\n"
    "    redis.call('HSET', k, 'revoked', '1', 'revoke_reason', ARGV[2], 'last_access', '',\n"
    "               'last_refresh', '')\n"
    "    redis.call('HINCRBY', k, 'rev', 1)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return n\n";

/* KEYS[1] qrl:user:<uid>:audit  KEYS[2] qrl:seq:audit
 * ARGV[1] at (ms, the score)  ARGV[2] the encoded entry  ARGV[3] how many
 * entries the user keeps → 0. The insertion number in front of the entry
 * makes every member unique and orders equal scores newest-inserted first. */
static const char RS_LUA_AUDIT_ADD[] =
    "local seq = redis.call('INCR', KEYS[2])\n"
    "redis.call('ZADD', KEYS[1], ARGV[1], string.format('%016x', seq) .. ARGV[2])\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - tonumber(ARGV[3]))\n"
    "return 0\n";

/* OAuth records (store.h), compare-and-set like session_put.
 * KEYS[1] qrl:oauth:<kind>:<key>  KEYS[2] qrl:oauth:<kind> (the never-expiring index)
 * ARGV[1] expected rev ("0": insert)  ARGV[2] new rev  ARGV[3] value
 * ARGV[4] expires_at (ms, "0": never)  ARGV[5] key  ARGV[6] now (ms, our clock)
 * → 0 stored, 1 not found, 2 conflict. A record past its expires_at counts as
 * gone even before Redis evicts it (the caller's clock is in ARGV[4]'s terms,
 * and expired records are refused on read by the broker too). */
static const char RS_LUA_OAUTH_PUT[] =
    "local cur = redis.call('HGET', KEYS[1], 'rev')\n"
    /* expired by our clock (ARGV[6]), as oauth_get judges it: as good as
     * none, whatever Redis's own clock has done with the key yet */
    "if cur then\n"
    "  local exp = tonumber(redis.call('HGET', KEYS[1], 'expires_at') or '0')\n"
    "  if exp > 0 and exp <= tonumber(ARGV[6]) then cur = false end\n"
    "end\n"
    "if ARGV[1] == '0' then\n"
    "  if cur then return 2 end\n"
    "else\n"
    "  if not cur then return 1 end\n"
    "  if cur ~= ARGV[1] then return 2 end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'value', ARGV[3], 'expires_at', ARGV[4], 'rev', ARGV[2])\n"
    "if ARGV[4] ~= '0' then\n"
    "  redis.call('PEXPIREAT', KEYS[1], ARGV[4])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[5])\n"
    "else\n"
    "  redis.call('ZADD', KEYS[2], 0, ARGV[5])\n"
    "end\n"
    "return 0\n";

/* KEYS[1] the record  KEYS[2] the kind's index  ARGV[1] key → 1 deleted, 0 none */
static const char RS_LUA_OAUTH_DEL[] =
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return redis.call('DEL', KEYS[1])\n";

/* KEYS[1] qrl:oauth:<kind>  ARGV[1] at most this many → key, HGETALL, … for
 * the kind's never-expiring records, by key. */
static const char RS_LUA_OAUTH_LIST[] =
    "local out = {}\n"
    "local prefix = string.sub(KEYS[1], 1) .. ':'\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do\n"
    "  local h = redis.call('HGETALL', prefix .. k)\n"
    "  if #h > 0 then out[#out + 1] = k; out[#out + 1] = h end\n"
    "end\n"
    "return out\n";

/* The scripts, as store_redis.c registers them with its link. */
enum rs_script {
    RS_USER_CREATE,
    RS_USER_BY_NAME,
    RS_USER_BUMP,
    RS_SESSION_PUT,
    RS_SESSION_LIST,
    RS_SESSION_REVOKE_USER,
    RS_AUDIT_ADD,
    RS_USER_FEDERATED,
    RS_OAUTH_PUT,
    RS_OAUTH_DEL,
    RS_OAUTH_LIST,
    RS__SCRIPTS
};

static const struct {
    const char *name;
    const char *lua;
} rs_script_src[RS__SCRIPTS] = {
    [RS_USER_CREATE] = {"user_create", RS_LUA_USER_CREATE},
    [RS_USER_BY_NAME] = {"user_by_name", RS_LUA_USER_BY_NAME},
    [RS_USER_BUMP] = {"user_bump_version", RS_LUA_USER_BUMP},
    [RS_SESSION_PUT] = {"session_put", RS_LUA_SESSION_PUT},
    [RS_SESSION_LIST] = {"session_list", RS_LUA_SESSION_LIST},
    [RS_SESSION_REVOKE_USER] = {"session_revoke_user", RS_LUA_SESSION_REVOKE_USER},
    [RS_AUDIT_ADD] = {"audit_add", RS_LUA_AUDIT_ADD},
    [RS_USER_FEDERATED] = {"user_federated", RS_LUA_USER_FEDERATED},
    [RS_OAUTH_PUT] = {"oauth_put", RS_LUA_OAUTH_PUT},
    [RS_OAUTH_DEL] = {"oauth_del", RS_LUA_OAUTH_DEL},
    [RS_OAUTH_LIST] = {"oauth_list", RS_LUA_OAUTH_LIST},
};

#endif
