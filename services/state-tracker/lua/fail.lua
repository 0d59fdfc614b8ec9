-- ARGV: id worker attempt error retryable(0/1) max_attempts retry_delay_ms history_cap
local id = ARGV[1]
local k = fkey(id)
local why = holds(k, ARGV[2], tonumber(ARGV[3]))
if why then return {0, why} end
local now = now_ms()
local attempts = tonumber(redis.call('HGET', k, 'attempts'))
local again = ARGV[5] == '1' and attempts < tonumber(ARGV[6])
redis.call('HSET', k, 'state', 'FAILED', 'error', ARGV[4], 'retryable', again and '1' or '0', 'updated_ms', now)
redis.call('HDEL', k, 'lease_exp')
redis.call('ZREM', P .. 'leases', id)
if again then redis.call('ZADD', P .. 'ready', now + tonumber(ARGV[7]), id) end
move_state(id, 'IN_PROGRESS', 'FAILED')
history(id, 'IN_PROGRESS', 'FAILED', now, ARGV[2], ARGV[4], tonumber(ARGV[8]))
return {1, again and 0 or 1, record(id)}
