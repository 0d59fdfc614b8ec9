-- ARGV: id worker attempt output_key sha256 history_cap
local id = ARGV[1]
local k = fkey(id)
local attempt = tonumber(ARGV[3])
local f = redis.call('HMGET', k, 'state', 'worker', 'attempts', 'sha256')
if f[1] == 'COMPLETED' and f[2] == ARGV[2] and (attempt == 0 or tonumber(f[3]) == attempt) and f[4] == ARGV[5] then
  return {2, record(id)}
end
local why = holds(k, ARGV[2], attempt)
if why then return {0, why} end
local now = now_ms()
redis.call('HSET', k, 'state', 'COMPLETED', 'output_key', ARGV[4], 'sha256', ARGV[5], 'updated_ms', now)
redis.call('HDEL', k, 'lease_exp', 'error', 'retryable')
redis.call('ZREM', P .. 'leases', id)
move_state(id, 'IN_PROGRESS', 'COMPLETED')
history(id, 'IN_PROGRESS', 'COMPLETED', now, ARGV[2], '', tonumber(ARGV[6]))
return {1, record(id)}
