// The flush: the one script a node runs at every tick, for every key with
// something to say. See scripts.ts for the others.
import { PRELUDE } from './lua-prelude.js';

/** Lease operations a flush can ask for, per breaker. */
export const LeaseOp = { None: 0, Acquire: 1, Renew: 2, Release: 3 } as const;
export type LeaseOp = (typeof LeaseOp)[keyof typeof LeaseOp];

/** What a flush answers about the lease: not asked, held by another node (or nobody), held by this node. */
export const LeaseReply = { NotAsked: -1, NotHeld: 0, Held: 1 } as const;

/**
 * What a flush does with this node's entry among the failing nodes: keep it,
 * write it (with its report time, and the keys' expiries), remove it, or
 * move the score of an entry already there (one command; an entry gone
 * meanwhile stays gone until the next Set).
 */
export const FailOp = { Keep: 0, Set: 1, Clear: 2, Score: 3 } as const;
export type FailOp = (typeof FailOp)[keyof typeof FailOp];

/** Arguments per breaker of {@link FLUSH}, after its header. */
export const FLUSH_ARGS_PER_KEY = 11;
/** Fields per breaker of {@link FLUSH}'s reply, after its header. */
export const FLUSH_REPLY_PER_KEY = 12;

/**
 * A breaker's operations in one flush, packed in one integer: its failing
 * entry, its reporting entry, the lease, how many failing entries to sample,
 * and the unit (of exactly-once counting) its counts belong to.
 */
export function packOps(fail: FailOp, report: 0 | 1, lease: LeaseOp, sample: number, unit: number): number {
  return fail + 4 * report + 8 * lease + 32 * Math.min(sample, 63) + 2048 * unit;
}

/**
 * One node's flush of some breakers, of one or more key groups (of one only
 * on Redis Cluster: one slot per call).
 *
 * Per breaker it adds the node's counts to the current bucket of the shared
 * window and to its running totals (recounted from the buckets when a new
 * bucket starts, which also drops what left the window), sets or clears the
 * node's entry among the failing nodes, refreshes its entry among the
 * reporting nodes, takes, renews or releases the probe lease, and reads the
 * stored state when its version is not the one the node knows. Its cost per
 * breaker does not grow with the window's fill, and grows with the number of
 * nodes only as O(log nodes) in a sorted set, when an entry changes; the
 * counts of failing and reporting nodes are kept in the window's header and
 * recounted per bucket.
 *
 * Counts are applied at most once: each unit (flush-entry.ts) of the call carries
 * the node's next sequence number for it, and a unit whose number is not
 * above the last one applied for this node's incarnation applies none of its
 * counts (the rest of the call still runs). A flush sent again after a
 * timeout therefore cannot count twice.
 *
 * KEYS: [1] the incarnation's hash of sequence numbers, then per breaker:
 * window hash, erring nodes (sorted set by badness), the same by report
 * time, reporting nodes (sorted set: the nodes that reported the key in the
 * last two windows).
 * ARGV: [1] node, [2] leaseTtlMs, [3] skewMs, [4] most calls per second one
 * node may plausibly make, [5] U, then U sequence numbers, then U unit names
 * (the hash's fields), then S, then S windows as (bucketMs, buckets), then
 * per breaker {@link FLUSH_ARGS_PER_KEY}: window index (1-based), counts
 * ("s,f,t,slow" or ''), operations ({@link packOps}), erring entry, old
 * erring entry, its score, the threshold to count failing nodes at, where to
 * start the sample, lease value, a holder value to drop, known state version.
 * Reply: [now, repairs, then per unit: applied (1/0), when its seq was
 * applied], then per breaker {@link FLUSH_REPLY_PER_KEY}: the window's
 * epoch, successes, failures, timeouts, slow calls, failing nodes (entries
 * at or above the threshold) and reporting nodes, flags (lease reply + 1,
 * plus 4 when counts were clamped), lease holder, state version, state (''
 * when known), sampled failing entries ('\n'-joined "entry score").
 */
export const FLUSH = `${PRELUDE}
local leaseTtl = tonumber(ARGV[2])
local skew = tonumber(ARGV[3])
local maxRate = tonumber(ARGV[4])
local units = tonumber(ARGV[5])
local applied = {}
local out = {now, 0}
-- One hash of sequence numbers per node incarnation (per group on a Cluster),
-- a field per unit: "seq:when applied". Sequence 0: the unit carries no counts.
local fields = {}
for u = 1, units do fields[u] = ARGV[5 + units + u] end
local seqs = pc('HMGET', KEYS[1], unpack(fields))
local writes = {}
for u = 1, units do
  local seq = tonumber(ARGV[5 + u])
  local ok, at = 0, now
  if seq > 0 then
    ok = 1
    local sq = seqs[u]
    if sq then
      local s0, at0 = string.match(sq, '^(%d+):(%d+)$')
      if s0 and tonumber(s0) >= seq then
        ok = 0
        at = tonumber(at0)
      end
    end
    if ok == 1 then
      writes[#writes + 1] = fields[u]
      writes[#writes + 1] = seq .. ':' .. now
    end
  end
  applied[u] = ok
  out[#out + 1] = ok
  out[#out + 1] = at
end
if #writes > 0 then
  redis.call('HSET', KEYS[1], unpack(writes))
  redis.call('PEXPIRE', KEYS[1], 600000)
end
local sbase = 6 + 2 * units
local windows = {}
for w = 1, tonumber(ARGV[sbase]) do
  local bucketMs, n = tonumber(ARGV[sbase + 2 * w - 1]), tonumber(ARGV[sbase + 2 * w])
  local e = math.floor(now / bucketMs)
  local slots = {}
  for j = 0, n - 1 do slots[j + 1] = 'b' .. j end
  windows[w] = {bucketMs, n, bucketMs * n, e, 'b' .. (e % n), slots}
end
local kbase = sbase + 2 * tonumber(ARGV[sbase])
local nk = (#KEYS - 1) / 4
for i = 0, nk - 1 do
  local b = kbase + ${FLUSH_ARGS_PER_KEY} * i
  local kw, kf, kt, kr = KEYS[2 + 4 * i], KEYS[3 + 4 * i], KEYS[4 + 4 * i], KEYS[5 + 4 * i]
  local win = windows[tonumber(ARGV[b + 1])]
  local bucketMs, n, windowMs, e, slot = win[1], win[2], win[3], win[4], win[5]
  local ops = tonumber(ARGV[b + 3])
  local fop = ops % 4
  ops = (ops - fop) / 4
  local report = ops % 2
  ops = (ops - report) / 2
  local lop = ops % 4
  ops = (ops - lop) / 4
  local k = ops % 64
  local unit = (ops - k) / 64
  local clamped = 0
  local h = pc('HMGET', kw, 'h', slot, 'sv', 'st', 'sx', 'l', 'lx')
  local existed = h[1] or h[3] or h[6]
  local head = h[1]
  local he, hs, hf, ht, hw, failing, reporting = parseHead(head)
  local cur = h[2]
  local changed = false
  if he ~= e then
    -- A new bucket (or a first flush, or a header that is garbage): drop the
    -- nodes and buckets that left the window and recount the totals, each
    -- bucket bounded by what the reporting nodes could plausibly have made.
    pc('ZREMRANGEBYSCORE', kr, '-inf', now - 2 * windowMs)
    local gone = pc('ZRANGEBYSCORE', kt, '-inf', now - windowMs)
    if #gone > 0 then
      pc('ZREM', kf, unpack(gone))
      redis.call('ZREM', kt, unpack(gone))
    end
    reporting = redis.call('ZCARD', kr)
    failing = pc('ZCARD', kf)
    local bcap = math.floor(maxRate * bucketMs / 1000) * math.max(1, reporting)
    local bs = redis.call('HMGET', kw, unpack(win[6]))
    hs, hf, ht, hw = 0, 0, 0, 0
    for j = 1, n do
      local be, s, f, x, w = parse(bs[j])
      if be and be > e - n and be <= e then
        if s > bcap or f > bcap or x > bcap or w > bcap then
          clamped = 4
          s, f, x, w = math.min(s, bcap), math.min(f, bcap), math.min(x, bcap), math.min(w, bcap)
        end
        hs, hf, ht, hw = hs + s, hf + f, ht + x, hw + w
      end
    end
    cur = bs[(e % n) + 1]
    changed = h[1] or hs + hf + ht + hw + failing + reporting > 0
  end
  if report == 1 then
    reporting = reporting + pc('ZADD', kr, now, ARGV[1])
    redis.call('PEXPIRE', kr, 3 * windowMs)
    changed = true
  end
  if fop == 1 then
    if ARGV[b + 5] ~= '' and ARGV[b + 5] ~= ARGV[b + 4] then
      failing = failing - pc('ZREM', kf, ARGV[b + 5])
      pc('ZREM', kt, ARGV[b + 5])
    end
    failing = failing + pc('ZADD', kf, ARGV[b + 6], ARGV[b + 4])
    pc('ZADD', kt, now, ARGV[b + 4])
    redis.call('PEXPIRE', kf, 2 * windowMs)
    redis.call('PEXPIRE', kt, 2 * windowMs)
    changed = true
  elseif fop == 3 then
    pc('ZADD', kf, 'XX', ARGV[b + 6], ARGV[b + 4])
  elseif fop == 2 and ARGV[b + 5] ~= '' then
    failing = failing - pc('ZREM', kf, ARGV[b + 5])
    pc('ZREM', kt, ARGV[b + 5])
    changed = true
  end
  if failing < 0 then failing = 0 end
  local counts = ARGV[b + 2]
  if counts ~= '' and applied[unit] == 1 then
    local ds, df, dt, dw = string.match(counts, '^(%d+),(%d+),(%d+),(%d+)$')
    ds, df, dt, dw = tonumber(ds) or 0, tonumber(df) or 0, tonumber(dt) or 0, tonumber(dw) or 0
    local pcap = math.floor(maxRate * windowMs / 1000)
    if ds > pcap or df > pcap or dt > pcap or dw > pcap then
      clamped = 4
      ds, df, dt, dw = math.min(ds, pcap), math.min(df, pcap), math.min(dt, pcap), math.min(dw, pcap)
    end
    local se, ss, sf, sx2, sw = parse(cur)
    if se ~= e then ss, sf, sx2, sw = 0, 0, 0, 0 end
    hs, hf, ht, hw = hs + ds, hf + df, ht + dt, hw + dw
    head = packHead(e, hs, hf, ht, hw, failing, reporting)
    pc('HSET', kw, 'h', head, slot, pack(e, ss + ds, sf + df, sx2 + dt, sw + dw))
    changed = false
  end
  if changed then
    head = packHead(e, hs, hf, ht, hw, failing, reporting)
    pc('HSET', kw, 'h', head)
  end
  -- The lease: a well-formed holder with an expiry no longer than leaseTtlMs, else absent (and removed).
  local l, lx = h[6], tonumber(h[7])
  if l then
    if #l > 300 or not string.match(l, '^[%w%.:_%-]+$') or lx == nil or lx > now + leaseTtl + skew then
      pc('HDEL', kw, 'l', 'lx')
      repairs = repairs + 1
      l = false
    elseif lx <= now then
      l = false
    end
  end
  if l and ARGV[b + 10] ~= '' and l == ARGV[b + 10] then
    pc('HDEL', kw, 'l', 'lx')
    l = false
  end
  local mine = ARGV[b + 9]
  local lease = -1
  if lop == 1 then
    if not l or l == mine then
      pc('HSET', kw, 'l', mine, 'lx', now + leaseTtl)
      lease = 1
    else
      lease = 0
    end
  elseif lop == 2 then
    if l == mine then
      pc('HSET', kw, 'lx', now + leaseTtl)
      lease = 1
    else
      lease = 0
    end
  elseif lop == 3 then
    if l == mine then pc('HDEL', kw, 'l', 'lx') end
    lease = 0
  end
  local holder = ''
  if lease == 0 and l and l ~= mine then holder = l end
  -- The stored state: dropped when expired, and when garbage or dated beyond the skew bound (counted).
  local sv, sx = tonumber(h[3]), tonumber(h[5])
  local st = h[4]
  if h[3] or h[4] or h[5] then
    local bad = sv == nil or sx == nil or not st or sv > now + skew
    if bad or sx <= now then
      if bad then repairs = repairs + 1 end
      pc('HDEL', kw, 'sv', 'st', 'sx')
      sv = nil
    end
  end
  local stOut = ''
  if sv and sv ~= tonumber(ARGV[b + 11]) then stOut = st end
  -- A new bucket (or a new hash) renews the window's expiry; so does a lease taken on a hash that had none.
  if (not existed and (head or lop == 1)) or (he ~= e and head) then
    local want = 2 * windowMs
    if sv and sx - now > want then want = sx - now end
    redis.call('PEXPIRE', kw, want)
  end
  -- The failing nodes by this node's threshold, and a sample of their entries.
  local counted = 0
  local members = ''
  if failing > 0 then
    local thr = ARGV[b + 7]
    counted = redis.call('ZCOUNT', kf, thr, '+inf')
    if k > 0 and counted > 0 then
      local ms = redis.call('ZRANGEBYSCORE', kf, thr, '+inf', 'WITHSCORES', 'LIMIT', ARGV[b + 8], k)
      local lines = {}
      for j = 1, #ms, 2 do lines[#lines + 1] = ms[j] .. ' ' .. ms[j + 1] end
      members = table.concat(lines, '\\n')
    end
  end
  out[#out + 1] = e
  out[#out + 1] = hs or 0
  out[#out + 1] = hf or 0
  out[#out + 1] = ht or 0
  out[#out + 1] = hw or 0
  out[#out + 1] = counted
  out[#out + 1] = reporting or 0
  out[#out + 1] = lease + 1 + clamped
  out[#out + 1] = holder
  out[#out + 1] = sv or 0
  out[#out + 1] = stOut
  out[#out + 1] = members
end
out[2] = repairs
return out
`;
