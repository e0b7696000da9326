// What every script of the sync starts with: one TIME read, the repair of
// keys of the wrong type, and the window records' packing.
// Shared helpers: `pc` runs a command and, on a key of the wrong type,
// deletes the key (counted in `repairs`) and runs it again; `parse` reads a
// packed "epoch,s,f,t,w" record.
export const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local repairs = 0
local function pc(cmd, key, ...)
  local r = redis.pcall(cmd, key, ...)
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'WRONGTYPE', 1, true) then
      redis.call('DEL', key)
      repairs = repairs + 1
      return redis.call(cmd, key, ...)
    end
    error(r)
  end
  return r
end
-- Window records are packed doubles (struct): [epoch, s, f, t, slow] per
-- bucket, and [epoch, s, f, t, slow, failing, reporting] for the header. A
-- record that is not one (a writer's garbage) reads as absent.
local function sane(...)
  for i = 1, select('#', ...) do
    local x = select(i, ...)
    if x ~= x or x < 0 or x > 1e15 or x % 1 ~= 0 then return false end
  end
  return true
end
local function parse(v)
  if type(v) ~= 'string' or #v ~= 40 then return nil end
  local e, s, f, x, w = struct.unpack('<ddddd', v)
  if not sane(e, s, f, x, w) then return nil end
  return e, s, f, x, w
end
local function pack(e, s, f, x, w)
  return struct.pack('<ddddd', e, s, f, x, w)
end
local function parseHead(v)
  if type(v) ~= 'string' or #v ~= 56 then return nil end
  local e, s, f, x, w, fn, rn = struct.unpack('<ddddddd', v)
  if not sane(e, s, f, x, w, fn, rn) then return nil end
  return e, s, f, x, w, fn, rn
end
local function packHead(e, s, f, x, w, fn, rn)
  return struct.pack('<ddddddd', e, s, f, x, w, fn, rn)
end
`;
