// The Lua scripts of the sync. Each touches the keys of one breaker only (one
// hash tag), so they run on Redis Cluster too. Times come from the Redis
// server's clock (TIME), so nodes whose clocks disagree still agree on buckets.

/**
 * Adds a node's counts to the current bucket of a breaker's window, sums the
 * window, counts the other nodes that reported errors in it, takes or renews
 * the probe lease if asked, and reads the stored state.
 *
 * KEYS: window, nodes, state, lease.
 * ARGV: node, successes, failures, timeouts, slow, bucketMs, buckets, leaseMode (0 none, 1 acquire, 2 renew), token, leaseTtlMs.
 * Returns {bucket, nowMs, successes, failures, timeouts, slow, otherFailingNodes, lease (-1 not asked, 0 no, 1 held), state or ''}.
 */
export const FLUSH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucketMs = tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local windowMs = bucketMs * n
local e = math.floor(now / bucketMs)
local add = {s = tonumber(ARGV[2]), f = tonumber(ARGV[3]), t = tonumber(ARGV[4]), w = tonumber(ARGV[5])}
local added = false
for kind, v in pairs(add) do
  if v > 0 then
    local field = e .. ':' .. kind
    -- A field that holds garbage is overwritten rather than failing the flush.
    if type(redis.pcall('HINCRBY', KEYS[1], field, v)) == 'table' then
      redis.call('HSET', KEYS[1], field, v)
    end
    added = true
  end
end
local sum = {s = 0, f = 0, t = 0, w = 0}
local stale = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  local sep = string.find(field, ':', 1, true)
  local be = sep and tonumber(string.sub(field, 1, sep - 1))
  local kind = sep and string.sub(field, sep + 1)
  local v = tonumber(all[i + 1])
  if be == nil or v == nil or v ~= v or v < 0 or v > 1e12 or sum[kind] == nil or be <= e - n or be > e + n then
    stale[#stale + 1] = field
  else
    sum[kind] = sum[kind] + v
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
if added or #all > 0 then redis.call('PEXPIRE', KEYS[1], windowMs * 2) end
if add.f + add.t > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], now)
  redis.call('PEXPIRE', KEYS[2], windowMs * 2)
end
local others = 0
local gone = {}
local nodes = redis.call('HGETALL', KEYS[2])
for i = 1, #nodes, 2 do
  local ts = tonumber(nodes[i + 1])
  if ts == nil or ts ~= ts or ts <= now - windowMs or ts > now + windowMs then
    gone[#gone + 1] = nodes[i]
  elseif nodes[i] ~= ARGV[1] then
    others = others + 1
  end
end
if #gone > 0 then redis.call('HDEL', KEYS[2], unpack(gone)) end
local lease = -1
local mode = tonumber(ARGV[8])
if mode == 1 then
  if redis.call('SET', KEYS[4], ARGV[9], 'NX', 'PX', ARGV[10]) then
    lease = 1
  elseif redis.call('GET', KEYS[4]) == ARGV[9] then
    redis.call('PEXPIRE', KEYS[4], ARGV[10])
    lease = 1
  else
    lease = 0
  end
elseif mode == 2 then
  if redis.call('GET', KEYS[4]) == ARGV[9] then
    redis.call('PEXPIRE', KEYS[4], ARGV[10])
    lease = 1
  else
    lease = 0
  end
end
local st = redis.call('GET', KEYS[3])
return {e, now, sum.s, sum.f, sum.t, sum.w, others, lease, st or ''}
`;

/**
 * Stores a breaker's state unless a newer one is stored, and publishes it. A
 * close also deletes the breaker's window and failing nodes: the outcomes
 * that tripped it must not trip it again once it closes.
 * KEYS: state, window, nodes. ARGV: message, ts, ttlMs, channel, state ('open' or 'closed').
 * Returns 1 if written, 0 if a newer state won.
 */
export const PUT_STATE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and tonumber(old.ts) and tonumber(old.ts) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[5] == 'closed' then redis.call('DEL', KEYS[2], KEYS[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1
`;

/** Deletes the lease if this node still holds it (compare-and-delete). KEYS: lease. ARGV: token. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** The Redis server's time in ms. */
export const SERVER_TIME = `
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
