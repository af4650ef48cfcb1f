package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts of the store. Each takes every key it touches in KEYS (one
// hash tag per scope) and the store's clock as an argument in unix
// milliseconds: never the server's. Times and generations are compared as
// Lua numbers (doubles), exact below 2^53; they are stored as the decimal
// strings the Go side passes, never as Lua-formatted numbers.
//
// A pin or a lease is live while now < expires, and dead from expires on.

// luaPinHelpers are functions shared by the pin scripts. KEYS[1], KEYS[2]
// and KEYS[3] are pins:blue, pins:green and pincolour.
const luaPinHelpers = `
local function zset_of(colour)
  if colour == 'blue' then return KEYS[1] end
  if colour == 'green' then return KEYS[2] end
  return nil
end

-- purge removes the pins of zset z that are dead at now, and their colours.
local function purge(z, now)
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #ids == 0 then return end
  for i = 1, #ids, 500 do
    redis.call('HDEL', KEYS[3], unpack(ids, i, math.min(i + 499, #ids)))
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
end

-- keep makes sure that the pin keys live at least gc ms more (server time):
-- garbage collection of abandoned scopes only, well past every lease.
local function keep(gc)
  for i = 1, 3 do
    local t = redis.call('PTTL', KEYS[i])
    if t == -1 or (t >= 0 and t < tonumber(gc)) then
      redis.call('PEXPIRE', KEYS[i], gc)
    end
  end
end
`

// casScript stores a record if its generation is the expected one, and
// publishes it.
// KEYS: record. ARGV: old generation, new generation, data, channel.
// Returns {1} when stored, else {0, stored gen, stored data}, with empty
// strings for no record.
var casScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'gen', 'data')
local gen = 0
if cur[1] then gen = tonumber(cur[1]) end
if gen ~= tonumber(ARGV[1]) then
  return {0, cur[1] or '', cur[2] or ''}
end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'data', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return {1}
`)

// pinScript creates or replaces a pin, moving it to the other colour's zset
// if its colour changed. An expiry not after now leaves no pin.
// KEYS: pins:blue, pins:green, pincolour. ARGV: id, colour, expires, now, gc.
var pinScript = goredis.NewScript(luaPinHelpers + `
local id = ARGV[1]
local old = zset_of(redis.call('HGET', KEYS[3], id))
local z = zset_of(ARGV[2])
if old and old ~= z then redis.call('ZREM', old, id) end
if tonumber(ARGV[3]) <= tonumber(ARGV[4]) then
  redis.call('ZREM', z, id)
  redis.call('HDEL', KEYS[3], id)
  return 0
end
redis.call('ZADD', z, ARGV[3], id)
redis.call('HSET', KEYS[3], id, ARGV[2])
keep(ARGV[5])
return 1
`)

// lookupScript returns a live pin, purging it if it is dead.
// KEYS: pins:blue, pins:green, pincolour. ARGV: id, now.
// Returns {colour, expires} or nil.
var lookupScript = goredis.NewScript(luaPinHelpers + `
local id = ARGV[1]
local colour = redis.call('HGET', KEYS[3], id)
if not colour then return false end
local z = zset_of(colour)
local s = false
if z then s = redis.call('ZSCORE', z, id) end
if s and tonumber(s) > tonumber(ARGV[2]) then
  return {colour, tonumber(s)}
end
if z then redis.call('ZREM', z, id) end
redis.call('HDEL', KEYS[3], id)
return false
`)

// renewScript extends the live pins among ARGV[4:] to a new expiry and
// returns the ids that had no live pin; those that had a dead one are
// purged. An expiry not after now ends the live pins.
// KEYS: pins:blue, pins:green, pincolour. ARGV: now, expires, gc, ids...
var renewScript = goredis.NewScript(luaPinHelpers + `
local now, exp = tonumber(ARGV[1]), tonumber(ARGV[2])
local missing = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local colour = redis.call('HGET', KEYS[3], id)
  local z = zset_of(colour)
  local s = false
  if z then s = redis.call('ZSCORE', z, id) end
  if s and tonumber(s) > now and exp > now then
    redis.call('ZADD', z, ARGV[2], id)
  else
    if z then redis.call('ZREM', z, id) end
    if colour then redis.call('HDEL', KEYS[3], id) end
    if not (s and tonumber(s) > now) then
      missing[#missing + 1] = id
    end
  end
end
if exp > now then keep(ARGV[3]) end
return missing
`)

// releaseScript removes pins, purges the dead ones and returns the live
// counts. KEYS: pins:blue, pins:green, pincolour. ARGV: now, ids...
// Returns {blue, green}.
var releaseScript = goredis.NewScript(luaPinHelpers + `
for i = 2, #ARGV, 500 do
  local j = math.min(i + 499, #ARGV)
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, j))
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, j))
  redis.call('HDEL', KEYS[3], unpack(ARGV, i, j))
end
purge(KEYS[1], ARGV[1])
purge(KEYS[2], ARGV[1])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`)

// countScript purges the dead pins and returns the live counts.
// KEYS: pins:blue, pins:green, pincolour. ARGV: now. Returns {blue, green}.
var countScript = goredis.NewScript(luaPinHelpers + `
purge(KEYS[1], ARGV[1])
purge(KEYS[2], ARGV[1])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`)

// acquireScript gives the probe lease to a holder unless another holder has
// a live one. An expiry not after now leaves no lease.
// KEYS: lease. ARGV: holder, now, expires, gc.
// Returns {1} when acquired, else {0, holder, expires}.
var acquireScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'holder', 'expires')
if cur[1] and cur[1] ~= ARGV[1] and cur[2] and tonumber(cur[2]) and tonumber(cur[2]) > tonumber(ARGV[2]) then
  return {0, cur[1], cur[2]}
end
if tonumber(ARGV[3]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {1}
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1}
`)

// releaseLeaseScript gives the probe lease up if the holder has it.
// KEYS: lease. ARGV: holder.
var releaseLeaseScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)
