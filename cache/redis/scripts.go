package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// The Lua scripts of the store. Each takes every key it touches in KEYS (one
// hash tag per scope). The scripts of leases (pins, probe leases) read the
// time from the server, with redis.call('TIME') (allowed since Redis
// replicates scripts by their effects), and take lease lengths in
// milliseconds: the caller's clock is never an input. Times and generations
// are compared as Lua numbers (doubles), exact below 2^53; generations are
// stored as the decimal strings the Go side passes, and times as the
// integers the scripts compute (which Redis and miniredis format without an
// exponent).
//
// A pin or a lease is live while now < expires, and dead from expires on.

// luaNow defines now(): the server's time in unix milliseconds.
const luaNow = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// luaPinHelpers are functions shared by the pin scripts. KEYS[1], KEYS[2]
// and KEYS[3] are pins:blue, pins:green and pincolour.
const luaPinHelpers = luaNow + `
local function zset_of(colour)
  if colour == 'blue' then return KEYS[1] end
  if colour == 'green' then return KEYS[2] end
  return nil
end

-- purge removes the pins of zset z that are dead at t, and their colours.
local function purge(z, t)
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', t)
  if #ids == 0 then return end
  for i = 1, #ids, 500 do
    redis.call('HDEL', KEYS[3], unpack(ids, i, math.min(i + 499, #ids)))
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', t)
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

// casSource is the script of a swap: it stores a record if its generation
// is the expected one, and publishes it, with the command that PUBLISH
// stands for (PUBLISH, or SPUBLISH on Redis Cluster: the channel shares
// the record's hash tag, so it is in the script's slot). It publishes
// first: Redis does not undo the commands of a script that fails, so a
// publish that an ACL refuses must come before the write, to fail the
// swap with nothing stored. Nobody can tell the order otherwise, since
// the script runs atomically.
// KEYS: record. ARGV: old generation, new generation, data, channel.
// Returns {1} when stored, else {0, stored gen, stored data}, with empty
// strings for no record.
const casSource = `
local cur = redis.call('HMGET', KEYS[1], 'gen', 'data')
local gen = 0
if cur[1] then gen = tonumber(cur[1]) end
if gen ~= tonumber(ARGV[1]) then
  return {0, cur[1] or '', cur[2] or ''}
end
redis.call('PUBLISH', ARGV[4], ARGV[3])
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'data', ARGV[3])
return {1}
`

// casScript is the swap that publishes with PUBLISH, casShardedScript the
// one that publishes with SPUBLISH (sharded pub/sub, Redis 7).
var (
	casScript        = goredis.NewScript(casSource)
	casShardedScript = goredis.NewScript(strings.Replace(casSource, "'PUBLISH'", "'SPUBLISH'", 1))
)

// writePinsScript creates or replaces the pins of ARGV[4 : 4+nblue] with
// blue and of the next ngreen ids with green, live for ttl ms from the
// server's now, moving each to its colour's zset if its colour changed (a
// ttl of zero or less leaves no pins); then removes the pins of the ids
// after those; then purges the dead pins and returns the live counts.
// KEYS: pins:blue, pins:green, pincolour. ARGV: ttl, gc, nblue, ngreen, ids...
// Returns {blue, green}.
var writePinsScript = goredis.NewScript(luaPinHelpers + `
local ttl = tonumber(ARGV[1])
local t = now()
local nblue = tonumber(ARGV[3])
local npins = nblue + tonumber(ARGV[4])
for i = 5, 4 + npins do
  local id = ARGV[i]
  local colour = 'green'
  if i <= 4 + nblue then colour = 'blue' end
  local z = zset_of(colour)
  local old = zset_of(redis.call('HGET', KEYS[3], id))
  if old and old ~= z then redis.call('ZREM', old, id) end
  if ttl <= 0 then
    redis.call('ZREM', z, id)
    redis.call('HDEL', KEYS[3], id)
  else
    redis.call('ZADD', z, t + ttl, id)
    redis.call('HSET', KEYS[3], id, colour)
  end
end
if npins > 0 and ttl > 0 then keep(ARGV[2]) end
for i = 5 + npins, #ARGV, 500 do
  local j = math.min(i + 499, #ARGV)
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, j))
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, j))
  redis.call('HDEL', KEYS[3], unpack(ARGV, i, j))
end
purge(KEYS[1], t)
purge(KEYS[2], t)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`)

// lookupScript returns a live pin, purging it if it is dead.
// KEYS: pins:blue, pins:green, pincolour. ARGV: id.
// Returns {colour, expires} or nil.
var lookupScript = goredis.NewScript(luaPinHelpers + `
local id = ARGV[1]
local colour = redis.call('HGET', KEYS[3], id)
if not colour then return false end
local z = zset_of(colour)
local s = false
if z then s = redis.call('ZSCORE', z, id) end
if s and tonumber(s) > now() then
  return {colour, tonumber(s)}
end
if z then redis.call('ZREM', z, id) end
redis.call('HDEL', KEYS[3], id)
return false
`)

// renewScript extends the live pins among ARGV[3:] to ttl ms from the
// server's now and returns the ids that had no live pin; those that had a
// dead one are purged. A ttl of zero or less ends the live pins.
// KEYS: pins:blue, pins:green, pincolour. ARGV: ttl, gc, ids...
var renewScript = goredis.NewScript(luaPinHelpers + `
local t = now()
local ttl = tonumber(ARGV[1])
local exp = t + ttl
local missing = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local colour = redis.call('HGET', KEYS[3], id)
  local z = zset_of(colour)
  local s = false
  if z then s = redis.call('ZSCORE', z, id) end
  if s and tonumber(s) > t and ttl > 0 then
    redis.call('ZADD', z, exp, id)
  else
    if z then redis.call('ZREM', z, id) end
    if colour then redis.call('HDEL', KEYS[3], id) end
    if not (s and tonumber(s) > t) then
      missing[#missing + 1] = id
    end
  end
end
if ttl > 0 then keep(ARGV[2]) end
return missing
`)

// countScript purges the dead pins and returns the live counts.
// KEYS: pins:blue, pins:green, pincolour. ARGV: none. Returns {blue, green}.
var countScript = goredis.NewScript(luaPinHelpers + `
local t = now()
purge(KEYS[1], t)
purge(KEYS[2], t)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`)

// acquireScript gives the probe lease to a holder, for ttl ms from the
// server's now, unless another holder has a live one. A ttl of zero or
// less leaves no lease.
// KEYS: lease. ARGV: holder, ttl, gc.
// Returns {1} when acquired, else {0, holder, expires, now}.
var acquireScript = goredis.NewScript(luaNow + `
local t = now()
local cur = redis.call('HMGET', KEYS[1], 'holder', 'expires')
if cur[1] and cur[1] ~= ARGV[1] and cur[2] and tonumber(cur[2]) and tonumber(cur[2]) > t then
  return {0, cur[1], tonumber(cur[2]), t}
end
local ttl = tonumber(ARGV[2])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return {1}
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires', t + ttl)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
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
