// The Lua scripts that keep the shared budgets in Redis. Each runs
// atomically on the server and touches only keys of one client key, all
// with the same {name} hash tag, so a Redis Cluster keeps them on one slot.
// Times come from Redis TIME, so gateway clocks need not agree.
//
// Every script answers an array of integers.
#pragma once

#include <string_view>

namespace aigw::redis::scripts {

// rpm / tpm: a GCRA bucket of capacity L refilled at L per minute (the same
// model as limits::LocalLeaseSource), kept as one Redis key holding `tat`,
// the Redis time in microseconds at which the bucket is full again; the key
// expires when the bucket is full, so an idle key costs nothing.
//   KEYS[1]  aigw:{name}:rpm or aigw:{name}:tpm
//   ARGV     op ("lease" | "give" | "charge"), L, n
//   returns  {granted, remaining after, microseconds until full}
// lease grants min(n, available); give returns n units (never past full);
// charge takes n unconditionally (the bucket may go into debt).
inline constexpr std::string_view kRate = R"lua(
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op, L, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local W = 60000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = 0
if op == 'lease' then
  local base = math.max(tat, now)
  local avail = 0
  if base < now + W then avail = math.floor((now + W - base) * L / W) end
  granted = math.min(n, avail)
  if granted > 0 then tat = base + math.ceil(granted * W / L) end
elseif op == 'charge' then
  tat = math.max(tat, now) + math.ceil(n * W / L)
  granted = n
else
  if tat > now then tat = tat - math.floor(n * W / L) end
end
if tat > now then
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
else
  redis.call('DEL', KEYS[1])
end
local base = math.max(tat, now)
local remaining = 0
if base < now + W then remaining = math.floor((now + W - base) * L / W) end
return {granted, remaining, math.max(0, tat - now)}
)lua";

// daily / monthly token quotas: a counter per window, the window in the key
// name, so a new window starts at 0 and a give-back for an ended window
// finds nothing to return. The counter outlives its window by ttl seconds.
//   KEYS[1]  aigw:{name}:daily:<UTC day number> or aigw:{name}:monthly:<year*12+month-1>
//   ARGV     op ("lease" | "give" | "charge"), L, n, ttl seconds
//   returns  {granted, remaining after}
inline constexpr std::string_view kQuota = R"lua(
local op, L, n, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = 0
if op == 'lease' then
  granted = math.min(n, math.max(0, L - used))
  if granted > 0 then used = redis.call('INCRBY', KEYS[1], granted) end
elseif op == 'charge' then
  used = redis.call('INCRBY', KEYS[1], n)
  granted = n
elseif used > 0 then
  used = redis.call('DECRBY', KEYS[1], math.min(used, n))
end
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ttl) end
return {granted, math.max(0, L - used)}
)lua";

// max_concurrent: each instance reserves slots; the sum of reservations
// never grows past L. KEYS[1] holds instance -> slots reserved, KEYS[2]
// instance -> Redis time (s) of its last call, the heartbeat. An instance
// silent for longer than ttl seconds is dropped with its slots, so a dead
// instance's slots come back.
//   KEYS[1]  aigw:{name}:conc        KEYS[2]  aigw:{name}:conc:seen
//   ARGV     instance id, slots wanted, L, ttl seconds
//   returns  {slots reserved for this instance, slots of the others}
// Lowering is always granted; growing only up to what the others leave.
inline constexpr std::string_view kSlots = R"lua(
redis.replicate_commands()
local now = tonumber(redis.call('TIME')[1])
local me, want, L, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local seen = redis.call('HGETALL', KEYS[2])
for i = 1, #seen, 2 do
  if seen[i] ~= me and tonumber(seen[i + 1]) + ttl < now then
    redis.call('HDEL', KEYS[1], seen[i])
    redis.call('HDEL', KEYS[2], seen[i])
  end
end
local all = redis.call('HGETALL', KEYS[1])
local mine, others = 0, 0
for i = 1, #all, 2 do
  if all[i] == me then mine = tonumber(all[i + 1]) else others = others + tonumber(all[i + 1]) end
end
local grant = want
if want > mine then grant = math.max(mine, math.min(want, L - others)) end
if grant > 0 then
  redis.call('HSET', KEYS[1], me, grant)
  redis.call('HSET', KEYS[2], me, now)
else
  redis.call('HDEL', KEYS[1], me)
  redis.call('HDEL', KEYS[2], me)
end
redis.call('EXPIRE', KEYS[1], ttl * 2)
redis.call('EXPIRE', KEYS[2], ttl * 2)
return {grant, others}
)lua";

// The usage aggregates every instance adds to (src/redis/usage_mirror.h):
// one hash per UTC day, a field per (key, model, provider, column), added
// to with HINCRBY in one atomic call per day, so a reader never sees half
// of one instance's flush.
//   KEYS[1]  aigw:usage:{YYYY-MM-DD}
//   ARGV     field, amount, field, amount, ...
//   returns  {fields added}
inline constexpr std::string_view kUsageAdd = R"lua(
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return {#ARGV / 2}
)lua";

}  // namespace aigw::redis::scripts
