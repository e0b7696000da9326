// The Lua scripts of the sync. Every key one call touches shares one hash tag
// (a key group), so each call runs on one Redis Cluster slot. Times come from
// the Redis server's clock (one TIME per script), so nodes whose clocks
// disagree still agree on buckets. Anything read back is checked: a key of
// the wrong type is deleted and counted, a field that is garbage is dropped
// or recounted, and nothing a writer to Redis left there can fail a call.

import { PRELUDE } from './lua-prelude.js';

/** What a state or config write answers. */
export const PutReply = { Written: 1, NewerStands: 0, TooFarAhead: -1 } as const;

/**
 * Stores a breaker's fleet state unless a newer one stands, and publishes it.
 * A stored state dated more than the skew bound ahead of the server's clock,
 * or expired, does not stand. A close also deletes the shared window and the
 * failing nodes: the outcomes that tripped the key must not trip it again.
 *
 * KEYS: window hash, erring nodes, erring nodes by time, the group's index of open keys.
 * ARGV: [1] message, [2] version (server ms), [3] valid until (server ms),
 * [4] channel, [5] 'open' or 'closed', [6] index member, [7] skewMs,
 * [8] windowMs, [9] buckets, [10] PUBLISH or SPUBLISH.
 * Reply: {@link PutReply}, repairs.
 */
export const PUT_STATE = `${PRELUDE}
local skew = tonumber(ARGV[7])
local ts = tonumber(ARGV[2])
if ts > now + skew then return {-1, repairs} end
local cur = pc('HMGET', KEYS[1], 'sv', 'sx')
local sv, sx = tonumber(cur[1]), tonumber(cur[2])
if sv and sx and sx > now and sv <= now + skew and sv >= ts then return {0, repairs} end
local untilMs = tonumber(ARGV[3])
pc('HSET', KEYS[1], 'sv', ARGV[2], 'st', ARGV[1], 'sx', ARGV[3])
if ARGV[5] == 'closed' then
  local fields = {'h'}
  for j = 0, tonumber(ARGV[9]) - 1 do fields[#fields + 1] = 'b' .. j end
  redis.call('HDEL', KEYS[1], unpack(fields))
  redis.call('DEL', KEYS[2], KEYS[3])
  pc('ZREM', KEYS[4], ARGV[6])
else
  pc('ZADD', KEYS[4], untilMs, ARGV[6])
end
local want = math.max(untilMs - now, 2 * tonumber(ARGV[8]))
if redis.call('PTTL', KEYS[1]) < want then redis.call('PEXPIRE', KEYS[1], want) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('PEXPIRE', KEYS[4], 86400000)
redis.call(ARGV[10], ARGV[4], ARGV[1])
return {1, repairs}
`;

/**
 * Stores a config (or forced mode) message unless a newer one stands, and
 * publishes it. A stored message that is garbage, oversized, or dated beyond
 * the skew bound does not stand.
 *
 * KEYS: the config hash. ARGV: [1] field, [2] message, [3] version (server
 * ms), [4] channel, [5] skewMs, [6] ttlMs, [7] PUBLISH or SPUBLISH, [8] most bytes a message may have.
 * Reply: {@link PutReply}, repairs.
 */
export const PUT_CONFIG = `${PRELUDE}
local ver = tonumber(ARGV[3])
local skew = tonumber(ARGV[5])
if ver > now + skew then return {-1, repairs} end
local cur = pc('HGET', KEYS[1], ARGV[1])
if cur and #cur <= tonumber(ARGV[8]) then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' then
    local v = tonumber(old.ver)
    if v and v <= now + skew and v >= ver then return {0, repairs} end
  end
end
pc('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call(ARGV[7], ARGV[4], ARGV[2])
return {1, repairs}
`;

/**
 * The open keys of one group and their stored states, for a node that
 * (re)connects. KEYS: the group's index. ARGV: [1] most members to read.
 * Reply: [now, repairs, member, ...] (members whose state has not expired).
 */
export const OPEN_KEYS = `${PRELUDE}
pc('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ms = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {now, repairs}
for i = 1, #ms do out[#out + 1] = ms[i] end
return out
`;

/** Reads stored configs and counts a key of the wrong type. KEYS: the config hash. Reply: [repairs, field, value, ...]. */
export const READ_CONFIGS = `${PRELUDE}
local all = pc('HGETALL', KEYS[1])
local out = {repairs}
for i = 1, #all do out[#out + 1] = all[i] end
return out
`;

/** The Redis server's time in ms. */
export const SERVER_TIME = `
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
