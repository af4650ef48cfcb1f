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

// luaPinHelpers are functions shared by the pin scripts. KEYS[1] and
// KEYS[2] are pins:blue and pins:green: a pin is a member of its colour's
// zset, scored by its expiry. The scripts call Redis once per zset and per
// 500 ids, not once per id, so a batch of pins costs a few commands
// however many it holds.
const luaPinHelpers = luaNow + `
local function zset_of(colour)
  if colour == 'blue' then return KEYS[1] end
  if colour == 'green' then return KEYS[2] end
  return nil
end

-- chunks calls f(i, j) for ARGV[from..to] in runs of at most 500 ids, as
-- many as one variadic command takes here.
local function chunks(from, to, f)
  for i = from, to, 500 do f(i, math.min(i + 499, to)) end
end

-- zadd scores ARGV[i..j] with score in zset z.
local function zadd(z, score, i, j)
  local args = {}
  for k = i, j do
    args[#args + 1] = score
    args[#args + 1] = ARGV[k]
  end
  redis.call('ZADD', z, unpack(args))
end

-- purge removes the pins that are dead at t.
local function purge(t)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', t)
end

-- keep makes sure that the pin keys live at least gc ms more (server time):
-- garbage collection of abandoned scopes only, well past every lease.
local function keep(gc)
  for i = 1, 2 do
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

// writePinsScript creates or replaces the pins of ARGV[5 : 5+nblue] with
// blue and of the next ngreen ids with green, live for ttl ms from the
// server's now, taking each out of the other colour's zset (a ttl of zero
// or less leaves no pins); then removes the pins of the ids after those;
// then purges the dead pins and returns the live counts.
// KEYS: pins:blue, pins:green. ARGV: ttl, gc, nblue, ngreen, ids...
// Returns {blue, green}.
var writePinsScript = goredis.NewScript(luaPinHelpers + `
local ttl = tonumber(ARGV[1])
local t = now()
local nblue = tonumber(ARGV[3])
local npins = nblue + tonumber(ARGV[4])
local function pin(from, to, z, other)
  chunks(from, to, function(i, j)
    redis.call('ZREM', other, unpack(ARGV, i, j))
    if ttl > 0 then zadd(z, t + ttl, i, j) else redis.call('ZREM', z, unpack(ARGV, i, j)) end
  end)
end
pin(5, 4 + nblue, KEYS[1], KEYS[2])
pin(5 + nblue, 4 + npins, KEYS[2], KEYS[1])
if npins > 0 and ttl > 0 then keep(ARGV[2]) end
chunks(5 + npins, #ARGV, function(i, j)
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, j))
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, j))
end)
purge(t)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`)

// lookupScript returns a live pin, purging it if it is dead.
// KEYS: pins:blue, pins:green. ARGV: id.
// Returns {colour, expires} or nil.
var lookupScript = goredis.NewScript(luaPinHelpers + `
local id = ARGV[1]
local t = now()
for i, colour in ipairs({'blue', 'green'}) do
  local s = redis.call('ZSCORE', KEYS[i], id)
  if s and tonumber(s) > t then return {colour, tonumber(s)} end
  if s then redis.call('ZREM', KEYS[i], id) end
end
return false
`)

// renewScript extends the live pins among ARGV[3:] to ttl ms from the
// server's now and returns the ids that had no live pin; those that had a
// dead one are purged. A ttl of zero or less ends the live pins.
// KEYS: pins:blue, pins:green. ARGV: ttl, gc, ids...
var renewScript = goredis.NewScript(luaPinHelpers + `
local t = now()
local ttl = tonumber(ARGV[1])
local exp = t + ttl
local missing = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local live = false
  for k = 1, 2 do
    local s = redis.call('ZSCORE', KEYS[k], id)
    if s and tonumber(s) > t and ttl > 0 then
      redis.call('ZADD', KEYS[k], exp, id)
      live = true
    elseif s then
      redis.call('ZREM', KEYS[k], id)
      if tonumber(s) > t then live = true end
    end
  end
  if not live then missing[#missing + 1] = id end
end
if ttl > 0 then keep(ARGV[2]) end
return missing
`)

// countScript purges the dead pins and returns the live counts.
// KEYS: pins:blue, pins:green. ARGV: none. Returns {blue, green}.
var countScript = goredis.NewScript(luaPinHelpers + `
purge(now())
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
