-- ARGV: id worker attempt error retryable(0/1) max_attempts retry_delay_ms history_cap
--       infrastructure(0/1) max_retry_delay_ms source_removed(0/1)
-- Attempts stay the fencing token (every claim adds one); `free` counts the claims an infrastructure
-- failure gave back, so the attempts used are attempts - free; `infra_run` is such failures in a row.
local id = ARGV[1]
local k = fkey(id)
local why = holds(k, ARGV[2], tonumber(ARGV[3]))
if why then return {0, why} end
local now = now_ms()
if ARGV[11] == '1' then
  -- The worker found the source object gone: REMOVED, as a removal notification would have made it.
  redis.call('HSET', k, 'state', 'REMOVED', 'error', ARGV[4], 'retryable', '0', 'updated_ms', now)
  redis.call('HDEL', k, 'lease_exp', 'worker')
  redis.call('ZREM', P .. 'leases', id)
  move_state(id, 'IN_PROGRESS', 'REMOVED')
  history(id, 'IN_PROGRESS', 'REMOVED', now, ARGV[2], ARGV[4], tonumber(ARGV[8]))
  return {1, 1, record(id)}
end
local attempts = tonumber(redis.call('HGET', k, 'attempts'))
local delay = tonumber(ARGV[7])
if ARGV[5] == '1' and ARGV[9] == '1' then
  redis.call('HINCRBY', k, 'free', 1)
  local run = redis.call('HINCRBY', k, 'infra_run', 1)
  delay = math.min(delay * 2 ^ (run - 1), tonumber(ARGV[10]))
else
  redis.call('HSET', k, 'infra_run', 0)
end
local used = attempts - tonumber(redis.call('HGET', k, 'free') or '0')
local again = ARGV[5] == '1' and used < tonumber(ARGV[6])
redis.call('HSET', k, 'state', 'FAILED', 'error', ARGV[4], 'retryable', again and '1' or '0', 'updated_ms', now)
redis.call('HDEL', k, 'lease_exp')
redis.call('ZREM', P .. 'leases', id)
if again then redis.call('ZADD', P .. 'ready', now + delay, id) end
move_state(id, 'IN_PROGRESS', 'FAILED')
history(id, 'IN_PROGRESS', 'FAILED', now, ARGV[2], ARGV[4], tonumber(ARGV[8]))
return {1, again and 0 or 1, record(id)}
